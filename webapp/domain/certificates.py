"""Payment certificates (缴费证明, R-CE-2 … R-CE-6): when a payment is posted to the treasury (入库),
what a certificate says, its numbers and its password. Pure: the standard library and the calendar.

Decisions (the guides leave them open):

- Posting (seed 000 Q48: "需等待费款入库之后才可开具，建议两个工作日后进行查询和下载"): a payment is
  posted on the second working day after the day it was paid (Beijing time), with the app's holiday
  calendar; it can be certified from that day on.
- A certificate is issued to the 缴费人 whose fees they are (the insured), for their own items, even
  when a family member paid them: Q49 sends 代开 to the tax-office window, so nobody certifies another
  person's payments online (R-CE-6).
- The certificate carries the full name and document number (纳税人识别号): it is the payer's own
  document, shown to a bank or a school that matches it against the ID card, and the check
  (记录查验) asks for that number. Screens that are not the document mask them (R-ID-3).
- The QR code never carries the document number (R-ID-3: no URL does): it carries the check code and
  a key derived from the document number with the app's secret, so the check page opens with both
  filled in and the reader only answers the captcha.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from .calendar import BEIJING, HolidayCalendar, Month, default_calendar
from .money import amount_in_words
from .regions import DEFAULT_REGION
from .regions import region as region_of

#: Working days between payment and treasury posting (seed 000 Q48).
POSTING_WORKING_DAYS = 2
CHECK_CODE_DIGITS = 16
PASSWORD_LENGTH = 6
TITLE = "社会保险费缴费证明"
#: 记录下载's 状态 column (seed 000 §6, seed 004 §2).
STATUS_LABELS = {"making": "制作中", "made": "制作成功", "failed": "制作失败"}


def posting_date(paid_on: date | datetime, cal: HolidayCalendar | None = None) -> date:
    """入(退)库日期: the second working day after the payment day (a datetime is read in Beijing time)."""
    if isinstance(paid_on, datetime):
        paid_on = paid_on.astimezone(BEIJING).date() if paid_on.tzinfo else paid_on.date()
    cal = cal or default_calendar()
    d, left = paid_on, POSTING_WORKING_DAYS
    while left:
        d = date.fromordinal(d.toordinal() + 1)
        if cal.is_working_day(d):
            left -= 1
    return d


def e_ticket_no(posted_on: date, settled_id: int, region: str = DEFAULT_REGION) -> str:
    """电子税票号码 given at posting: 20 digits, the region's prefix (``411000`` Beijing, ``437020`` Qingdao,
    ``domain.regions``) + year + the paid item's number."""
    return f"{region_of(region).e_ticket_prefix}{posted_on:%y}{settled_id:012d}"


def new_check_code() -> str:
    """A 16-digit 证明校验码 from the OS's secure random source (10^15 … 10^16-1: never a leading 0)."""
    return str(10**15 + secrets.randbelow(9 * 10**15))


def is_check_code(text: str) -> bool:
    """Exactly 16 ASCII digits."""
    return len(text) == CHECK_CODE_DIGITS and text.isascii() and text.isdigit()


def normalize_check_code(text: str) -> str:
    """What a user typed as a check code: full-width digits and spaces forgiven (not validated)."""
    return "".join(unicodedata.normalize("NFKC", text or "").split())


def certificate_number(requested_on: date, certificate_id: int, region: str = DEFAULT_REGION) -> str:
    """证明编号: the region's prefix (``11`` Beijing, ``domain.regions``) + application date + the request's
    number, e.g. ``112026112200000007``."""
    return f"{region_of(region).certificate_prefix}{requested_on:%Y%m%d}{certificate_id:08d}"


def pdf_password(id_number: str) -> str:
    """The PDF's password (R-CE-4): the last 6 characters of the document number, left-padded with 0,
    ASCII only (full-width characters are folded; anything still not ASCII is refused)."""
    text = "".join(unicodedata.normalize("NFKC", id_number).split()).upper()
    password = text[-PASSWORD_LENGTH:].rjust(PASSWORD_LENGTH, "0")
    if not password.isascii() or not password.isalnum():
        raise ValueError("document number cannot give an ASCII password")
    return password


def verify_key(secret: str, check_code: str, id_number: str) -> str:
    """The QR code's stand-in for the document number: an HMAC of it with the app's secret (16 hex)."""
    msg = f"verify:{check_code}:{id_number.upper()}".encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()[:16]


def mask_number(text: str | None, keep_start: int = 4, keep_end: int = 4) -> str:
    """``41100026****0001``: a long number with its middle hidden (R-ID-3); short ones keep 2 + 2."""
    if not text:
        return "--"
    if len(text) <= keep_start + keep_end:
        return text[:2] + "*" * max(len(text) - 4, 0) + text[-2:]
    return text[:keep_start] + "*" * (len(text) - keep_start - keep_end) + text[-keep_end:]


def period_text(start: date, end: date) -> str:
    """费款所属期起止: ``2026-05 至 2026-05``."""
    return f"{Month.of(start)} 至 {Month.of(end)}"


@dataclass(frozen=True)
class CertificateLine:
    """One row of the certificate's table (R-CE-4)."""

    tax_office: str  # 征收税务机关
    e_ticket_no: str  # 电子税票号码
    si_agency: str  # 社保经办机构
    unit_no: str  # 单位编号 (blank for a person paying for themselves, as the guide's sample)
    person_no: str  # 人员编号
    item: str  # 征收项目
    subject: str  # 征收品目
    subitem: str  # 征收子目
    period: str  # 费款所属期起止
    posted_on: date  # 入(退)库日期
    amount: Decimal  # 实缴(退)金额


@dataclass(frozen=True)
class CertificateDoc:
    """Everything a certificate prints: made from the database by the service, drawn by ``documents``."""

    number: str
    check_code: str
    payer_name: str
    id_type_label: str
    id_number: str
    tax_office: str  # the issuing office (开具机关): the one 税务机关 the certificate covers
    issued_on: date
    period: str  # the items' 费款所属期, first start to last end
    verify_url: str
    lines: tuple[CertificateLine, ...] = field(default_factory=tuple)
    issued_at: datetime | None = None  # when it was issued: the PDF's creation date
    title: str = TITLE  # the region's (``domain.regions``): 社会保险费缴费证明, 完税（费）证明

    @property
    def total(self) -> Decimal:
        """合计 in figures."""
        return sum((line.amount for line in self.lines), Decimal("0.00"))

    @property
    def total_in_words(self) -> str:
        """合计 in capital numerals (大写)."""
        return amount_in_words(self.total)

    @property
    def password(self) -> str:
        """The PDF password."""
        return pdf_password(self.id_number)
