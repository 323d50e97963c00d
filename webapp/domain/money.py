"""Money: Decimal yuan rounded half-up to 0.01 (R-MO-1); integer fen at the provider boundary.

Bases are whole yuan (``int``); amounts are ``Decimal`` with two places. Floats are refused
everywhere, so a binary rounding error can never reach an amount.

Decisions on user input (``parse_whole_yuan``):
- surrounding white space (ASCII or the full-width space U+3000) is stripped;
- full-width digits and signs (``７０００``) are folded to ASCII (``inputs.fold_fullwidth``), because
  Chinese input methods produce them easily and they carry no ambiguity; nothing else is folded, so
  ``²`` or ``①`` (which NFKC would turn into digits) are refused;
- ``7,000`` is accepted when the commas group the digits by three (the screens print bases
  that way, so people copy it), and ``7000.00`` is accepted because it is a whole number;
- ``7000.5``, Chinese numerals (``七千``), signs, zero, and the empty string are refused with
  a Chinese message.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from .inputs import fold_fullwidth

CENT = Decimal("0.01")
_MAX_DIGITS = 12
_PLAIN = re.compile(r"[0-9]+")
_GROUPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+")
_WITH_ZERO_FRACTION = re.compile(r"(?P<whole>[0-9][0-9,]*)\.0+")
_DECIMAL = re.compile(r"[0-9][0-9,]*\.[0-9]+")


def _decimal(x: Decimal | int | str) -> Decimal:
    if isinstance(x, float):
        raise TypeError("money must be Decimal, never float")
    return x if isinstance(x, Decimal) else Decimal(x)


def round_money(x: Decimal) -> Decimal:
    """Round half-up to 0.01 yuan (R-MO-1)."""
    return _decimal(x).quantize(CENT, rounding=ROUND_HALF_UP)


def yuan_to_fen(x: Decimal) -> int:
    """Yuan (Decimal, rounded half-up to the fen first) to integer fen."""
    return int(round_money(x) * 100)


def fen_to_yuan(fen: int) -> Decimal:
    """Integer fen to Decimal yuan with two places."""
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise TypeError("fen must be an int")
    return (Decimal(fen) / 100).quantize(CENT)


def format_yuan(x: Decimal) -> str:
    """Two decimals with thousands separators: ``Decimal("1265.2")`` → ``"1,265.20"``."""
    return f"{round_money(x):,.2f}"


def parse_whole_yuan(text: str) -> int:
    """A positive whole number of yuan typed by a user; ``ValueError`` with a Chinese message otherwise."""
    if text is None:
        raise ValueError("请填写金额")
    s = fold_fullwidth(str(text)).strip()
    if not s:
        raise ValueError("请填写金额")
    m = _WITH_ZERO_FRACTION.fullmatch(s)
    if m:
        s = m.group("whole")
    elif _DECIMAL.fullmatch(s):
        raise ValueError("金额须为整数（元），不能有小数")
    if _GROUPED.fullmatch(s):
        s = s.replace(",", "")
    if not _PLAIN.fullmatch(s):
        raise ValueError("金额须为整数（元），请用阿拉伯数字填写，例如7000")
    s = s.lstrip("0") or "0"
    if len(s) > _MAX_DIGITS:
        raise ValueError("金额过大，请核对后重新填写")
    try:
        value = int(Decimal(s))
    except InvalidOperation:  # pragma: no cover - the regex admits digits only
        raise ValueError("金额须为整数（元）") from None
    if value <= 0:
        raise ValueError("金额须大于0")
    return value
