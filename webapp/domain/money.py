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


_DIGITS_ZH = "零壹贰叁肆伍陆柒捌玖"
_UNITS_ZH = ("", "拾", "佰", "仟")
_GROUPS_ZH = ("", "万", "亿", "万亿")


def _four_digits_zh(n: int) -> str:
    """0 < n < 10000 in capitals, with 零 for inner gaps (``1005`` → ``壹仟零伍``)."""
    out, zero = "", False
    for pos in range(3, -1, -1):
        d = n // 10**pos % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += _DIGITS_ZH[d] + _UNITS_ZH[pos]
    return out


def amount_in_words(x: Decimal) -> str:
    """大写金额 as 《支付结算办法》 writes it (整 after 元 or 角, none after 分):
    ``Decimal("1265.20")`` → ``壹仟贰佰陆拾伍元贰角整``, ``Decimal("1000")`` → ``壹仟元整``,
    ``Decimal("0.05")`` → ``伍分``, ``Decimal("100000.01")`` → ``壹拾万元零壹分``.
    Rounded half-up to the fen first; negative amounts (退) start with 负."""
    fen = yuan_to_fen(x)
    sign = "负" if fen < 0 else ""
    fen = abs(fen)
    yuan, jiao, cent = fen // 100, fen // 10 % 10, fen % 10
    if yuan >= 10**16:
        raise ValueError("amount too large")
    words = ""
    if yuan:
        groups = []
        rest = yuan
        while rest:
            groups.append(rest % 10000)
            rest //= 10000
        need_zero = False
        for i in range(len(groups) - 1, -1, -1):
            g = groups[i]
            if g == 0:
                need_zero = bool(words)
                continue
            if words and (need_zero or g < 1000):
                words += "零"
            words += _four_digits_zh(g) + _GROUPS_ZH[i]
            need_zero = False
        words += "元"
    if not jiao and not cent:
        return sign + (words + "整" if words else "零元整")
    if jiao:
        words += _DIGITS_ZH[jiao] + "角"
    elif words:
        words += "零"
    if cent:
        words += _DIGITS_ZH[cent] + "分"
    else:
        words += "整"
    return sign + words
