"""Dates the rules depend on: the app's clock (APP_TODAY)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")


@dataclass
class Clock:
    """The time the app believes it is: real, or fixed (APP_TODAY / tests)."""

    fixed: datetime | None = field(default=None)

    @classmethod
    def from_env(cls, value: str | None) -> Clock:
        """``YYYY-MM-DD`` or an ISO datetime fixes the clock; empty means real time."""
        if not value:
            return cls()
        if len(value) == 10:
            return cls(datetime.combine(date.fromisoformat(value), time(10, 0), BEIJING))
        at = datetime.fromisoformat(value)
        return cls(at if at.tzinfo else at.replace(tzinfo=BEIJING))

    def now(self) -> datetime:
        """Now, in Beijing time."""
        return self.fixed if self.fixed is not None else datetime.now(BEIJING)

    def today(self) -> date:
        """Today's date in Beijing."""
        return self.now().date()

    def set(self, at: datetime | date) -> None:
        """Fix the clock (tests)."""
        self.fixed = Clock.from_env(at.isoformat()).fixed
