"""How the tax system names what it collects: 征收项目 / 征收品目 / 征收子目 per insurance (R-CE-1), and the
insurance's own label, for every scheme's record and certificate pages.
"""

from __future__ import annotations

from dataclasses import dataclass

from .pension import LABELS as RP_LABELS
from .pension import RP_PENSION
from .policy import INSURANCE_LABELS, RM_CATEGORIES

RM_MEDICAL = "rm_medical"

#: Every insurance code a receivable can carry, with the label screens show on each line.
LABELS: dict[str, str] = {**INSURANCE_LABELS, RM_MEDICAL: "城乡居民基本医疗保险", **RP_LABELS}


@dataclass(frozen=True)
class Levy:
    """征收项目, 征收品目, 征收子目 of one paid item."""

    item: str
    subject: str
    subitem: str


_LEVY: dict[str, tuple[str, str, str]] = {
    RM_MEDICAL: ("基本医疗保险费", "城乡居民基本医疗保险", ""),  # 子目: the insured's category
    # 征收品目 as the guide's sample certificate prints it: 职工基本养老保险(个人缴纳) (seed 000 §6); unemployment
    # and medical are paid by the same person in the same way, so they read alike (docs/policy.md §7).
    "pension": ("企业职工基本养老保险费", "职工基本养老保险(个人缴纳)", "灵活就业人员基本养老保险"),
    "unemployment": ("失业保险费", "失业保险(个人缴纳)", "灵活就业人员失业保险"),
    "medical": ("基本医疗保险费", "职工基本医疗保险(个人缴纳)", "灵活就业人员基本医疗保险"),
    RP_PENSION: ("城乡居民基本养老保险费", "城乡居民基本养老保险", "城乡居民基本养老保险个人缴费"),
}


def levy_of(insurance: str, category: str | None = None) -> Levy:
    """The three levy names of an insurance; a resident's 子目 is their category (老年人 …)."""
    item, subject, subitem = _LEVY.get(insurance, (LABELS.get(insurance, insurance), "", ""))
    return Levy(item, subject, subitem or RM_CATEGORIES.get(category or "", "--"))


_STORED_CHARGE_TYPES = {
    "annual": "正常缴费",
    "normal": "正常申报缴费",
    "missed_enrolment": "应参未参补缴",
    "policy_backpay": "政策性补缴",
    "other": "其他缴费",
}


def charge_type_label(charge_type: str) -> str:
    """缴费类型 of a paid item as records show it."""
    return _STORED_CHARGE_TYPES.get(charge_type, charge_type)
