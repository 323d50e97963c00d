"""Read models (issue 18): a page's data is one typed dataclass returned by its service; the view renders it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..domain.statuses import DeclarationKind

if TYPE_CHECKING:
    from ..models import Receivable


def as_context(model: Any) -> dict[str, Any]:
    """A read model's fields as a template's variables (shallow: the rows stay rows)."""
    return {f.name: getattr(model, f.name) for f in fields(model)}


def selection(
    items: Sequence[Receivable], kind: str, chosen: list[str] | None
) -> tuple[dict[str, list[Receivable]], set[str], Decimal]:
    """选择缴费信息's items as shown: grouped by insurance (正常) or by 征集通知流水号 (特殊, paid together), the ids
    ticked (all unless the payer chose) and their total."""
    groups: dict[str, list[Receivable]] = {}
    for r in items:
        groups.setdefault((r.notice_no or "") if kind == DeclarationKind.SPECIAL else r.insurance, []).append(r)
    selected = set(chosen) if chosen is not None else {str(r.id) for r in items}
    return groups, selected, sum((r.amount for r in items if str(r.id) in selected), Decimal("0.00"))
