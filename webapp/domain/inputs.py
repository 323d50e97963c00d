"""What a browser may type or send, folded and bounded before anything else reads it.

Decisions:
- Full-width forms (``１２３``, ``Ｘ``, the ideographic space) are what Chinese input methods produce, so
  they are folded to ASCII. Nothing else is: NFKC would also turn ``²`` into ``2`` and ``①`` into ``1``,
  and ``str.isdigit()`` accepts both (and ``int()`` chokes on them), so a digit here is ``[0-9]`` only.
- A database id is 1 to 10 ASCII digits and at most 2^31 − 1 (PostgreSQL ``integer``): anything else is
  "no such thing" (``None``), never an overflow.
"""

from __future__ import annotations

import re

MAX_DB_ID = 2**31 - 1
_ASCII_DIGITS = re.compile(r"[0-9]+")
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def fold_fullwidth(text: str) -> str:
    """Full-width ASCII forms and the ideographic space to plain ASCII; every other character unchanged."""
    return text.translate(_FULLWIDTH)


def ascii_digits(text: str, *, max_len: int) -> str | None:
    """The text as ASCII digits after full-width folding and trimming, or None (empty, too long, other)."""
    s = fold_fullwidth(text).strip()
    if not s or len(s) > max_len or not _ASCII_DIGITS.fullmatch(s):
        return None
    return s


def parse_id(text: object) -> int | None:
    """A positive database id from a URL or a form, or None for anything that cannot be one."""
    if not isinstance(text, str):
        return None
    s = ascii_digits(text, max_len=10)
    if s is None:
        return None
    value = int(s)
    return value if 0 < value <= MAX_DB_ID else None


_MONTH_TYPED = re.compile(r"(\d{4})\s*(?:[-/.年]\s*)?(\d{1,2})\s*月?(?:\s*[-/.]?\s*(\d{1,2})\s*日?)?")
_DATE_TYPED = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


def month_parts(text: str) -> tuple[int, int]:
    """A month as a phone's picker sends it (``2026-01``) or as a person types it (``2026-1``, ``2026/1``,
    ``2026.1``, ``202601``, ``2026年1月``, full-width digits; a whole date keeps its month): ``(year, month)``,
    ``ValueError`` otherwise (the caller says why in Chinese)."""
    s = fold_fullwidth(text).strip()
    m = _MONTH_TYPED.fullmatch(s) if len(s) <= 20 else None
    if m is None or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"not a month: {text!r}")
    return int(m.group(1)), int(m.group(2))


def date_parts(text: str) -> tuple[int, int, int]:
    """A date as a picker sends it (``2026-01-05``) or as typed (``2026-1-5``, ``2026/1/5``, ``2026年1月5日``):
    ``(year, month, day)`` (not checked against the calendar), ``ValueError`` otherwise."""
    s = fold_fullwidth(text).strip()
    m = _DATE_TYPED.fullmatch(s) if len(s) <= 20 else None
    if m is None:
        raise ValueError(f"not a date: {text!r}")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))
