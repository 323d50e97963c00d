"""Qingdao's rules (seed 002, R-QD-*), pure: the 险种类型 words, the base range (from the policy table, keyed by
region and year, never a literal here), and the reading of one row of the bureau's 核定 file.

Decisions (docs/qingdao.md):

- The handbook gives no rates (R-QD-5): every Qingdao amount is a row of the bureau's 核定 file; none is computed.
- A 核定 row whose 费款所属期 lies in a year before the import's year is an item of an earlier year: it is paid
  in 特殊缴费 (seed 002 §三: 补缴以前年度社会保险费，补缴信息由人社、医保部门核定推送), where 缴费基数 may be empty.
  A row of the current year needs its 缴费基数 and is paid in 缴费.
- A base is chosen per 个人参保编号 and calendar year (regions.csv: Qingdao's contribution year is assumed to be
  the calendar year), at any time of the year (flex_windows.csv), within the policy row's range.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from .calendar import Month
from .errors import RuleViolation
from .money import yuan_to_fen
from .policy import flex_policy

REGION = "qingdao"

#: 险种类型 as the handbook's pages show it.
INSURANCE_LABELS = {"pension": "企业职工基本养老保险", "medical": "职工基本医疗保险"}
#: What a 核定 file may write in its 险种类型 column.
_INSURANCE_WORDS = {
    "pension": "pension",
    "medical": "medical",
    "养老": "pension",
    "养老保险": "pension",
    "企业职工基本养老保险": "pension",
    "灵活就业人员基本养老保险": "pension",
    "医疗": "medical",
    "医疗保险": "medical",
    "职工基本医疗保险": "medical",
    "灵活就业人员基本医疗保险": "medical",
}

MSG_BASE_EMPTY = "请输入缴费基数金额"
MSG_BASE_NOT_NUMBER = "缴费基数金额应为整数（元）"
MSG_NOT_FOUND = "未查询到参保信息，请核对参保人的姓名、证件类型、证件号码"


def _fold(text: str | None) -> str:
    return "".join(unicodedata.normalize("NFKC", text or "").split())


def base_range(on: date) -> tuple[int, int]:
    """缴费基数金额's range on a day (seed 002 §二 第五步: 3980–19899), from the policy table."""
    p = flex_policy(REGION, on)
    return p.base_min, p.base_max


def msg_base_range(on: date) -> str:
    """The handbook's own note, with the table's numbers."""
    low, high = base_range(on)
    return f"缴费基数金额请在{low}元-{high}元之间选择"


def parse_base(text: str | None, on: date) -> int:
    """A typed 缴费基数金额 (R-QD-4): whole yuan within the range; ``RuleViolation`` with the handbook's words."""
    s = _fold(text).removesuffix("元")
    if not s:
        raise RuleViolation(MSG_BASE_EMPTY)
    if s.endswith(".00"):
        s = s[:-3]
    if not (s.isascii() and s.isdigit()) or len(s) > 9:
        raise RuleViolation(MSG_BASE_NOT_NUMBER)
    base = int(s)
    low, high = base_range(on)
    if not low <= base <= high:
        raise RuleViolation(msg_base_range(on))
    return base


def insurance_code(text: str | None) -> str:
    """险种类型 of a 核定 row: ``pension`` or ``medical``; ``RuleViolation`` for anything else."""
    code = _INSURANCE_WORDS.get(_fold(text))
    if code is None:
        raise RuleViolation(f"险种类型不正确：{(text or '').strip()}（应为养老或医疗）")
    return code


@dataclass(frozen=True)
class AssessedRow:
    """One row of the bureau's 核定 file, read and checked (R-QD-5)."""

    insured_no: str  # 个人参保编号
    insurance: str  # pension | medical
    base: int | None  # 缴费基数 (whole yuan); None only for an earlier year's item
    month: Month  # 费款所属期
    amount_fen: int
    special: bool  # an earlier year's item (特殊缴费)

    @property
    def natural_key(self) -> str:
        """The receivable's stable key: importing the same file twice gives the same rows."""
        return f"qd:{self.insured_no}:{self.insurance}:{self.month}"


def read_row(row: dict[str, str], year: int) -> AssessedRow:
    """Check one row (``insured_no``, ``insurance``, ``base``, ``fee_period``, ``amount``); ``year`` is the
    import's year."""
    insured_no = _fold(row.get("insured_no"))
    if not insured_no or not insured_no.isascii() or not insured_no.isalnum() or len(insured_no) > 30:
        raise RuleViolation("个人参保编号不正确")
    insurance = insurance_code(row.get("insurance"))
    try:
        month = Month.parse(_fold(row.get("fee_period")))
    except ValueError:
        raise RuleViolation("费款所属期不正确（应为YYYY-MM）") from None
    if month.year > year:
        raise RuleViolation("费款所属期不能晚于本年度")
    special = month.year < year
    base_text = _fold(row.get("base"))
    base: int | None = None
    if base_text:
        if not (base_text.isascii() and base_text.isdigit()) or len(base_text) > 9:
            raise RuleViolation("缴费基数应为整数（元）")
        base = int(base_text)
    elif not special:
        raise RuleViolation("本年度缴费须有缴费基数")
    try:
        amount = Decimal(_fold(row.get("amount")))
    except InvalidOperation:
        raise RuleViolation("金额应为大于0、最多两位小数的数") from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")) or amount > 10**7:
        raise RuleViolation("金额应为大于0、最多两位小数的数")
    return AssessedRow(insured_no, insurance, base, month, yuan_to_fen(amount), special)
