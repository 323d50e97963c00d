"""Money: Decimal yuan rounded half-up to 0.01 (R-MO-1); fen at the provider boundary."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def round_money(x: Decimal) -> Decimal:
    """Round half-up to 0.01 yuan."""
    return Decimal(x).quantize(CENT, rounding=ROUND_HALF_UP)


def yuan_to_fen(x: Decimal) -> int:
    """Yuan (Decimal) to integer fen."""
    return int(round_money(x) * 100)


def fen_to_yuan(fen: int) -> Decimal:
    """Integer fen to Decimal yuan."""
    return (Decimal(fen) / 100).quantize(CENT)


def format_yuan(x: Decimal) -> str:
    """``1,265.20``."""
    return f"{round_money(x):,.2f}"
