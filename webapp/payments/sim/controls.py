"""Test controls for the simulated providers (also at POST /sim/<provider>/_control when SIM_CONTROLS=1).

``set(providers, "wechat", notify="duplicate")`` — ``providers`` is the providers' app. Controls:
notify: normal | drop | duplicate | delay | missign; ``delay_seconds``; ``reorder``: deliver newest
first; ``probe``: WeChat SIGNTEST probe first; ``query="paying"``: answer queries with "still paying";
``stale_seconds``: WeChat notification timestamps that old; ``serial``: another Wechatpay-Serial;
``amount_delta``: the cashier takes that many fen more (or less) than the order's amount;
``create_delay``: seconds WeChat takes to answer a create; ``unavailable``: 503 to every API call;
``refund="down"``: 503 to refunds and their queries only; ``refund="processing"``: refunds accepted, not finished.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from .providers import MODULES


def set(providers: Flask, provider: str, **controls: Any) -> None:  # noqa: A001 - reads well in tests
    """Replace a provider's controls."""
    providers.extensions["sim"].store.set_controls(provider, controls)


def reset(providers: Flask) -> None:
    """Clear every control."""
    for p in (*MODULES, "bank"):
        providers.extensions["sim"].store.set_controls(p, {})


def deliver_pending(providers: Flask, *, include_delayed: bool = False) -> int:
    """Deliver queued notifications (manual mode); returns how many attempts were made."""
    with providers.app_context():
        return providers.extensions["sim"].notifier.deliver_pending(include_delayed=include_delayed)


def pay(providers: Flask, provider: str, out_trade_no: str) -> bool:
    """The buyer pays at the cashier (without driving the HTML page); False if the trade refused."""
    with providers.app_context():
        store = providers.extensions["sim"].store
        trade = store.trade(provider, out_trade_no)
        if trade is None:
            raise LookupError(out_trade_no)
        if trade["state"] == "UNSEEN":
            store.set_state(provider, out_trade_no, "NOTPAY", only_from=("UNSEEN",))
            trade = store.trade(provider, out_trade_no)
        return bool(MODULES[provider].mark_paid(trade))


def trade(providers: Flask, provider: str, out_trade_no: str) -> dict[str, Any] | None:
    """The provider's record of an order number."""
    row = providers.extensions["sim"].store.trade(provider, out_trade_no)
    return dict(row) if row is not None else None


def trades(providers: Flask) -> list[dict[str, Any]]:
    """Every trade the providers hold."""
    return [dict(r) for r in providers.extensions["sim"].store.all("SELECT * FROM trade ORDER BY created")]


def outbox(providers: Flask) -> list[dict[str, Any]]:
    """Every queued or sent notification (for assertions)."""
    return [dict(r) for r in providers.extensions["sim"].store.all("SELECT * FROM outbox ORDER BY id")]


def open_account(
    providers: Flask,
    card_number: str,
    bank_code: str,
    holder: str,
    balance_fen: int = 0,
    id_number: str = "",
    status: str = "normal",
) -> None:
    """The bank opens (or resets) an account."""
    from . import bank

    bank.open_account(providers.extensions["sim"].store, card_number, bank_code, holder, id_number, balance_fen, status)


def set_balance(providers: Flask, card_number: str, balance_fen: int) -> None:
    """The account holder funds (or drains) an account."""
    from . import bank

    bank.set_balance(providers.extensions["sim"].store, card_number, balance_fen)


def account(providers: Flask, card_number: str) -> dict[str, Any] | None:
    """An account as the bank holds it."""
    from . import bank

    return bank.account(providers.extensions["sim"].store, card_number)


def debits(providers: Flask) -> list[dict[str, Any]]:
    """Every debit the bank decided."""
    return [dict(r) for r in providers.extensions["sim"].store.all("SELECT * FROM bank_debit ORDER BY rowid")]
