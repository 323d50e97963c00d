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
