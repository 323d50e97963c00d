"""Banks an agreement can be signed with (开户银行 → 银行行政区划 → 银行网点), their card numbers, and the
checks a card number must pass before the bank is even asked (R-AG-2, docs/policy.md §5): digits only, 16 to
19 of them, and the Luhn check digit (ISO/IEC 7812-1, which UnionPay cards carry). No BIN is checked here:
a bank issues cards under many BINs (the guide's own 中国工商银行 example starts 6228 0012), so whether an
account exists at the bank and is the holder's is the bank's answer. Reference data lives in data/banks.csv
and data/bank_branches.csv.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .errors import RuleViolation

DATA = Path(__file__).resolve().parent / "data"


#: Card numbers the app accepts (docs/policy.md §5): UnionPay debit cards are 16 to 19 digits.
CARD_LENGTHS = range(16, 20)


@dataclass(frozen=True)
class Bank:
    """One bank: its code, name, and the BIN and length the simulated bank numbers its demo cards with."""

    code: str
    name: str
    bin: str
    card_length: int
    luhn: bool


@cache
def banks() -> dict[str, Bank]:
    """Every bank, by code, in the table's order."""
    with open(DATA / "banks.csv", encoding="utf-8", newline="") as f:
        return {
            r["code"]: Bank(r["code"], r["name"], r["bin"], int(r["card_length"]), r["luhn"].strip() == "1")
            for r in csv.DictReader(f)
        }


@cache
def _branches() -> tuple[tuple[str, str, str], ...]:
    with open(DATA / "bank_branches.csv", encoding="utf-8", newline="") as f:
        return tuple((r["bank"], r["region"], r["branch"]) for r in csv.DictReader(f))


def regions(bank: str) -> list[str]:
    """银行行政区划 where the bank has branches."""
    return list(dict.fromkeys(region for b, region, _ in _branches() if b == bank))


def branches(bank: str, region: str) -> list[str]:
    """银行网点 of the bank in a region."""
    return [branch for b, r, branch in _branches() if b == bank and r == region]


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check over a string of digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_digit(body: str) -> str:
    """The check digit that makes ``body + digit`` pass Luhn."""
    return next(d for d in "0123456789" if luhn_ok(body + d))


def normalize_card(bank_code: str, raw: str) -> str:
    """A card number as the bank wants it, or RuleViolation with what is wrong (R-AG-2): digits only (full-width
    and spaces folded), 16 to 19 of them, and the Luhn check digit. The bank then says whether it is an account
    of its own and the holder's."""
    if bank_code not in banks():
        raise RuleViolation("请选择开户银行")
    number = "".join(unicodedata.normalize("NFKC", raw or "").split())
    if not number:
        raise RuleViolation("请输入银行账号")
    if not (number.isascii() and number.isdigit()):
        raise RuleViolation("银行账号只能包含数字")
    if len(number) not in CARD_LENGTHS:
        raise RuleViolation(f"银行账号应为{CARD_LENGTHS[0]}至{CARD_LENGTHS[-1]}位数字，请核对（当前{len(number)}位）")
    if not luhn_ok(number):
        raise RuleViolation("银行账号校验位不正确，请核对后重新输入")
    return number


#: What to do when the bank refuses to sign, by its answer (R-AG-2, R-AG-3; the guide's 注意事项).
SIGN_ADVICE = {
    "账户不存在": "请核对开户银行和银行账号是否正确。",
    "持卡人姓名与账户不一致": "签约银行卡必须为缴费人本人持有的银行卡，即持卡人姓名需要和缴费人姓名保证一致。",
    "账户异常": "请到开户银行核实账户情况。",
    "卡号校验失败": "请核对银行账号后重新输入。",
}


def sign_refusal(bank_code: str, message: str) -> str:
    """The bank's refusal to sign as the payer reads it: its reason, who said it, what to do."""
    name = banks()[bank_code].name if bank_code in banks() else "银行"
    return f"签约失败：{message}（{name}答复）。{SIGN_ADVICE.get(message, '')}".rstrip()


def mask_card(number: str) -> str:
    """``6222 **** **** 0005`` (R-ID-3)."""
    return f"{number[:4]} **** **** {number[-4:]}"


def card_number(bank_code: str, serial: int) -> str:
    """A card number of the bank with this serial (for the demo and tests): BIN, serial, Luhn digit."""
    bank = banks()[bank_code]
    width = bank.card_length - len(bank.bin) - (1 if bank.luhn else 0)
    body = f"{bank.bin}{serial:0{width}d}"
    return body + luhn_digit(body) if bank.luhn else body


def card_with_prefix(prefix: str, length: int = 19) -> str:
    """A Luhn-valid card number that starts with ``prefix`` (zeros in between), for tests and the demo."""
    body = prefix + "0" * (length - 1 - len(prefix))
    return body + luhn_digit(body)
