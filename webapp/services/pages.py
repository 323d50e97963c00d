"""Read models (issue 18): a page's data is one typed dataclass returned by its service; the view renders it."""

from __future__ import annotations

from dataclasses import fields
from typing import Any


def as_context(model: Any) -> dict[str, Any]:
    """A read model's fields as a template's variables (shallow: the rows stay rows)."""
    return {f.name: getattr(model, f.name) for f in fields(model)}
