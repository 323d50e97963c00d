"""Certificates of a given length without a database: for `make bench-cert` and the layout tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from webapp.domain.certificates import CertificateDoc, CertificateLine

_INSURANCES = (
    ("企业职工基本养老保险费", "职工基本养老保险(个人缴纳)", "灵活就业人员基本养老保险", Decimal("1600.00")),
    ("失业保险费", "失业保险(个人缴纳)", "灵活就业人员失业保险", Decimal("80.00")),
    ("基本医疗保险费", "职工基本医疗保险(个人缴纳)", "灵活就业人员基本医疗保险", Decimal("584.92")),
)


def sample_doc(lines: int, check_code: str = "8622627689465907") -> CertificateDoc:
    """A flexible worker's certificate with ``lines`` monthly items (12 fit a page; 36 make three)."""
    rows = []
    for i in range(lines):
        item, subject, subitem, amount = _INSURANCES[i % 3]
        month = 12 - (i // 3) % 12
        year = 2026 - i // 36
        rows.append(
            CertificateLine(
                "国家税务总局北京市海淀区税务局",
                f"41100026{i:012d}",
                "北京市海淀区社会保险基金管理中心（人社）",
                "",
                "9123456789012345",
                item,
                subject,
                subitem,
                f"{year}-{month:02d} 至 {year}-{month:02d}",
                date(2026, 11, 24),
                amount,
            )
        )
    return CertificateDoc(
        "112026112200000007",
        check_code,
        "刘鹏",
        "居民身份证",
        "110108198704150030",
        "国家税务总局北京市海淀区税务局",
        date(2026, 11, 25),
        "2026-01 至 2026-12",
        f"http://127.0.0.1:5000/verify?code={check_code}&k=0123456789abcdef",
        tuple(rows),
    )
