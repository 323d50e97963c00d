"""Banks an agreement can be signed with (开户银行 → 银行行政区划 → 银行网点), their card numbers, and the
checks a card number must pass before the bank is even asked (R-AG-2): digits only, the bank's length and
BIN, and the Luhn check digit where the bank's cards carry one. Reference data lives in data/banks.csv and
data/bank_branches.csv.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .errors import RuleViolation

DATA = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Bank:
    """One bank: its code, name, debit-card BIN and length, and whether its cards carry a Luhn digit."""

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
    """A card number as the bank wants it, or RuleViolation with what is wrong (R-AG-2)."""
    bank = banks().get(bank_code)
    if bank is None:
        raise RuleViolation("请选择开户银行")
    number = "".join(unicodedata.normalize("NFKC", raw or "").split())
    if not number:
        raise RuleViolation("请输入银行账号")
    if not (number.isascii() and number.isdigit()):
        raise RuleViolation("银行账号只能包含数字")
    if len(number) != bank.card_length or not number.startswith(bank.bin):
        raise RuleViolation(f"{bank.name}借记卡账号应为{bank.card_length}位，以{bank.bin}开头，请核对")
    if bank.luhn and not luhn_ok(number):
        raise RuleViolation("银行账号校验位不正确，请核对后重新输入")
    return number


def mask_card(number: str) -> str:
    """``6222 **** **** 0005`` (R-ID-3)."""
    return f"{number[:4]} **** **** {number[-4:]}"


def card_number(bank_code: str, serial: int) -> str:
    """A card number of the bank with this serial (for the demo and tests): BIN, serial, Luhn digit."""
    bank = banks()[bank_code]
    width = bank.card_length - len(bank.bin) - (1 if bank.luhn else 0)
    body = f"{bank.bin}{serial:0{width}d}"
    return body + luhn_digit(body) if bank.luhn else body
