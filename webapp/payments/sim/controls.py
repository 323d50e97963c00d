"""Test controls for the simulated providers (also at POST /sim/<provider>/_control when SIM_CONTROLS=1).

``set(app, "wechat", notify="duplicate")`` — notify: normal | drop | duplicate | delay | missign;
``delay_seconds``; ``reorder``: deliver newest first; ``probe``: WeChat SIGNTEST probe first;
``query="paying"``: answer queries with "still paying".
"""

from __future__ import annotations

from typing import Any

from flask import Flask


def set(app: Flask, provider: str, **controls: Any) -> None:  # noqa: A001 - reads well in tests
    """Replace a provider's controls."""
    app.extensions["sim"].store.set_controls(provider, controls)


def reset(app: Flask) -> None:
    """Clear every control."""
    for p in ("wechat", "alipay", "unionpay"):
        app.extensions["sim"].store.set_controls(p, {})


def deliver_pending(app: Flask, *, include_delayed: bool = False) -> int:
    """Deliver queued notifications (manual mode); returns how many attempts were made."""
    return app.extensions["sim"].notifier.deliver_pending(include_delayed=include_delayed)


def pay(app: Flask, provider: str, out_trade_no: str) -> None:
    """The buyer pays at the cashier (without driving the HTML page)."""
    from .providers import MODULES

    with app.app_context():
        store = app.extensions["sim"].store
        trade = store.trade(provider, out_trade_no)
        if trade is None:
            raise LookupError(out_trade_no)
        if trade["state"] == "UNSEEN":
            store.set_state(provider, out_trade_no, "NOTPAY", only_from=("UNSEEN",))
            trade = store.trade(provider, out_trade_no)
        MODULES[provider].mark_paid(trade)


def outbox(app: Flask) -> list[dict[str, Any]]:
    """Every queued or sent notification (for assertions)."""
    return [dict(r) for r in app.extensions["sim"].store.all("SELECT * FROM outbox ORDER BY id")]
