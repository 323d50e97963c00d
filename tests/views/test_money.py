"""A payment either settles its fee or goes back in full, always (issue 17 D1, issue 19 item 6, R-PA-4,
R-PA-5): the probe's exact sequences per provider, amounts that must parse exactly, the reconcile job that
refunds within one run, what the payer reads (退款中 / 已退款 with the date), and a ledger that holds per
order whatever a notification said: money taken at the provider = settled + refunded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests import notes
from webapp import jobs
from webapp.models import AuditEvent, Declaration, NotificationTally, PaymentOrder, Refund, SettledPayment
from webapp.payments import orders
from webapp.payments.sim import controls

from ..conftest import text
from .flows import declare_for, order_state, start_order

#: The channel a resident pays each provider in (R-CH-1).
CHANNEL = {"wechat": "wechat", "alipay": "alipay", "unionpay": "etax-web"}
PROVIDERS = list(CHANNEL)
#: 王福生's year (老年人): ¥460.00.
FEN = 46000


def _count(app, model, *where):
    with app.extensions["db_sessionmaker"]() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def _order(app, no):
    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        return s.scalar(select(PaymentOrder).where(PaymentOrder.out_trade_no == no))


def _reconcile(app, seconds=61):
    """The periodic job, as huey runs it a minute later."""
    app.extensions["clock"].advance(timedelta(seconds=seconds))
    return jobs.reconcile(app)


@pytest.fixture
def pay(phone_user, family):
    """``pay(provider)``: 王建国 declares 王福生's year in the provider's channel and opens its cashier;
    returns (his phone, the 选择支付方式 URL, the order number)."""

    def start(provider: str):
        b = phone_user(family.payer, CHANNEL[provider])
        method_url = declare_for(b, family.father.id)
        return b, method_url, start_order(b, method_url, provider)

    return start


def _ack_ok(provider, r) -> bool:
    return r.status_code in (200, 204) and (provider != "alipay" or r.get_data() == b"success")


def _refused(provider, r) -> bool:
    return r.status_code == 400 if provider != "alipay" else r.get_data() == b"fail"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_D1_a_signed_wrong_amount_closes_the_order_and_that_cashier_can_never_take_the_money(
    app, providers, pay, provider
):
    """The probe's sequence: a provider-signed notification says ¥459.99 for the ¥460.00 order while the resident
    has not paid. Before: the order became `unapplied`, a refund of ¥459.99 was refused by the provider (not
    paid) and never retried, the order stayed open at the provider, the resident paid that cashier ¥460.00, the
    genuine notification counted as a duplicate, and nothing was settled or refunded. Now the order is closed at
    the provider first; it says nothing was taken, so there is nothing to refund, that cashier refuses to pay,
    and the declaration is paid by a new order."""
    b, method_url, no = pay(provider)
    r = notes.post(app, provider, notes.SIGNED[provider](app, providers, no, notes.ONE_FEN_SHORT[provider]))
    assert _ack_ok(provider, r)
    assert order_state(app, no) == "closed" and controls.trade(providers, provider, no)["state"] == "CLOSED"
    assert notes.refunds(app) == []  # nothing was taken: nothing to send back
    assert not controls.pay(providers, provider, no)  # the resident pays the same cashier: refused
    assert notes.unbalanced(app, providers) == {}
    page = text(b.get(f"/pay/orders/{no}"))
    assert "未扣款" in page and "重新选择支付方式" in page
    again = start_order(b, method_url, provider)
    assert again != no and controls.pay(providers, provider, again)
    controls.deliver_pending(providers)
    assert order_state(app, again) == "paid" and _count(app, SettledPayment) == 1
    assert notes.unbalanced(app, providers) == {} and notes.ledger(app, providers)[again] == (FEN, FEN, 0)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_D1_a_signed_wrong_amount_for_an_order_really_paid_settles_on_what_the_provider_says(
    app, providers, pay, provider
):
    """The resident paid ¥460.00 (the genuine notification is lost) and a signed message says ¥459.99: the close
    answers "paid", the provider's own query says ¥460.00 was taken, and that settles the fee."""
    _b, _url, no = pay(provider)
    controls.set(providers, provider, notify="drop")
    assert controls.pay(providers, provider, no)
    r = notes.post(app, provider, notes.SIGNED[provider](app, providers, no, notes.ONE_FEN_SHORT[provider]))
    assert _ack_ok(provider, r)
    assert order_state(app, no) == "paid" and notes.refunds(app) == []
    assert notes.ledger(app, providers)[no] == (FEN, FEN, 0)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_D1_money_taken_that_differs_goes_back_exactly_as_the_provider_took_it_and_once(app, providers, pay, provider):
    """The provider really took ¥459.99 for the ¥460.00 order: that is refunded, ¥459.99 as the provider's query
    says, keyed once per order; the resident pays again; a repeated notification changes nothing."""
    b, method_url, no = pay(provider)
    controls.set(providers, provider, amount_delta=-1, notify="duplicate")
    assert controls.pay(providers, provider, no)
    controls.deliver_pending(providers)
    assert order_state(app, no) == "unapplied"
    assert notes.refunds(app) == [(no, FEN - 1, "succeeded")]
    assert notes.ledger(app, providers)[no] == (FEN - 1, 0, FEN - 1)
    page = text(b.get(f"/pay/orders/{no}"))
    assert "已退款" in page and "¥459.99" in page and "重新选择支付方式" in page
    controls.set(providers, provider)
    again = start_order(b, method_url, provider)
    controls.pay(providers, provider, again)
    controls.deliver_pending(providers)
    assert order_state(app, again) == "paid"
    assert notes.unbalanced(app, providers) == {} and len(notes.refunds(app)) == 1


MALFORMED = [
    ("wechat", "46000.0"),
    ("wechat", '"46000"'),
    ("wechat", "4.6e4"),
    ("wechat", "true"),
    ("wechat", "null"),
    ("alipay", "460.009"),
    ("alipay", "NaN"),
    ("alipay", "460.0"),
    ("alipay", "460"),
    ("alipay", "4.6E+2"),
    ("alipay", "Infinity"),
    ("alipay", "４６０.００"),
    ("unionpay", "46000.0"),
    ("unionpay", "-46000"),
    ("unionpay", " 46000"),
    ("unionpay", "４６０００"),
]


@pytest.mark.parametrize("provider,amount", MALFORMED)
def test_D1_an_amount_that_does_not_parse_exactly_refuses_the_message(app, providers, pay, provider, amount):
    """Integers in fen for WeChat and UnionPay, exactly two decimals for Alipay: anything else (WeChat's
    46000.0, Alipay's "NaN" or "460.009", which was taken as 460.00) is refused as unreadable and moves nothing;
    the resident still pays and it settles."""
    _b, _url, no = pay(provider)
    r = notes.post(app, provider, notes.SIGNED[provider](app, providers, no, amount))
    assert _refused(provider, r)
    assert order_state(app, no) == "paying" and notes.refunds(app) == []
    with app.extensions["db_sessionmaker"]() as s:
        assert s.scalar(select(NotificationTally.outcome)) == "unreadable"
    controls.pay(providers, provider, no)
    controls.deliver_pending(providers)
    assert order_state(app, no) == "paid" and notes.ledger(app, providers)[no] == (FEN, FEN, 0)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_D1_a_paid_order_told_another_amount_keeps_what_it_settled(app, providers, pay, provider):
    """A duplicate that disagrees: the order settled ¥460.00; a later signed message saying ¥459.99 neither
    unsettles it nor refunds anything (the provider cannot take twice on one order)."""
    _b, _url, no = pay(provider)
    controls.pay(providers, provider, no)
    controls.deliver_pending(providers)
    r = notes.post(app, provider, notes.SIGNED[provider](app, providers, no, notes.ONE_FEN_SHORT[provider]))
    assert _ack_ok(provider, r)
    assert order_state(app, no) == "paid" and notes.refunds(app) == []
    assert notes.ledger(app, providers)[no] == (FEN, FEN, 0)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_D1_a_voided_declaration_never_keeps_money(app, providers, phone_user, family, pay, provider):
    """作废 closes the order at the provider first; a signed "paid" arriving later finds it closed there and takes
    nothing; money the provider took before the void (the close answers "paid") settles the fee instead."""
    b, method_url, no = pay(provider)
    decl_id = int(method_url.rstrip("/").rsplit("/", 1)[1])
    r = b.post(f"/pay/{decl_id}/void")
    assert r.status_code == 303 and order_state(app, no) == "closed"
    late = notes.post(
        app, provider, notes.SIGNED[provider](app, providers, no, str(FEN) if provider != "alipay" else "460.00")
    )
    assert _ack_ok(provider, late)
    assert order_state(app, no) == "closed" and notes.refunds(app) == [] and _count(app, SettledPayment) == 0
    assert notes.unbalanced(app, providers) == {}


def _void_behind_the_apps_back(app, no):
    """The declaration is voided while its order is open (the bureau's void, or a race the guards missed)."""
    from webapp.models import Receivable

    with app.extensions["db_sessionmaker"]() as s:
        decl = s.get(Declaration, _order(app, no).declaration_id)
        decl.status = "void"
        s.execute(
            Receivable.__table__.update()
            .where(Receivable.declaration_id == decl.id)
            .values(status="due", declaration_id=None)
        )
        s.commit()


def test_issue19_6_money_for_a_declaration_voided_meanwhile_is_refunded_by_the_job_within_one_run(app, providers, pay):
    """The provider took the money (its notification lost) for a declaration voided meanwhile: the reconcile job
    finds it and refunds it in the same run, and the payer's records say 已退款 with the date."""
    b, _url, no = pay("wechat")
    controls.set(providers, "wechat", notify="drop")
    assert controls.pay(providers, "wechat", no)
    _void_behind_the_apps_back(app, no)
    assert _reconcile(app) == 1
    assert order_state(app, no) == "unapplied" and notes.refunds(app) == [(no, FEN, "succeeded")]
    assert notes.unbalanced(app, providers) == {}
    records = text(b.get("/rm/records?start=2026-01&end=2026-12"))
    assert "已退款" in records and "2026-11-22" in records and "¥460.00" in records


@pytest.mark.parametrize("provider", PROVIDERS)
def test_issue19_6_a_refund_whose_first_attempt_failed_is_sent_by_the_next_run(app, providers, pay, provider):
    """The provider took a wrong amount and could not take the refund at first: 退款中 until the next run sends
    it (keyed: one refund, whatever the attempts)."""
    b, _url, no = pay(provider)
    controls.set(providers, provider, amount_delta=-1, notify="drop", refund="down")
    controls.pay(providers, provider, no)
    assert _reconcile(app) == 1
    assert order_state(app, no) == "unapplied" and notes.refunds(app) == [(no, FEN - 1, "requested")]
    page = text(b.get(f"/pay/orders/{no}"))
    assert "退款中" in page and "已退款" not in page
    _reconcile(app)  # still down: still owed, tried again
    controls.set(providers, provider)
    _reconcile(app)
    assert notes.refunds(app) == [(no, FEN - 1, "succeeded")]
    page = text(b.get(f"/pay/orders/{no}"))
    assert "已退款" in page and "2026-11-22" in page
    assert notes.unbalanced(app, providers) == {}
    with app.extensions["db_sessionmaker"]() as s:
        assert s.scalar(select(Refund.attempts)) >= 3


def test_issue19_6_a_refund_recorded_by_a_process_that_died_is_sent_by_the_job(app, providers, pay, monkeypatch):
    """The notification's worker recorded the refund and died before sending it: the next run sends it."""
    _b, _url, no = pay("unionpay")
    controls.set(providers, "unionpay", amount_delta=-100)
    monkeypatch.setattr(orders, "send_refunds", lambda *a, **kw: 0)  # the request's after-commit send never runs
    controls.pay(providers, "unionpay", no)
    controls.deliver_pending(providers)
    assert notes.refunds(app) == [(no, FEN - 100, "requested")]
    monkeypatch.undo()
    _reconcile(app)
    assert notes.refunds(app) == [(no, FEN - 100, "succeeded")]
    assert notes.unbalanced(app, providers) == {}


def test_R_PA_4_the_result_page_says_refunding_then_refunded_with_the_date(app, providers, pay):
    """WeChat answers a refund PROCESSING first (as the real one does): the page says 退款中 and polls a while, asking
    the provider, until it reads 已退款 with the date; then it stops polling. The minute job finishes it too."""
    b, _url, no = pay("wechat")
    controls.set(providers, "wechat", amount_delta=-1, refund="processing")
    controls.pay(providers, "wechat", no)
    controls.deliver_pending(providers)
    assert notes.refunds(app) == [(no, FEN - 1, "processing")]
    page = text(b.get(f"/pay/orders/{no}"))
    assert "退款中" in page and "已退款" not in page and 'hx-trigger="load delay:3s"' in page
    controls.set(providers, "wechat")
    hx = {"HX-Request": "true"}
    text(b.get(f"/pay/orders/{no}?poll=1", headers=hx))  # answered, then the provider is asked
    poll = text(b.get(f"/pay/orders/{no}?poll=2", headers=hx))
    assert "<html" not in poll and "已退款" in poll and "2026-11-22" in poll and "¥459.99" in poll
    assert "hx-trigger" not in poll  # done: no more polling
    assert notes.refunds(app) == [(no, FEN - 1, "succeeded")]


def test_R_PA_4_a_refund_still_under_way_stops_polling_after_a_while(app, providers, pay):
    """A refund the provider takes days over (a bank card): the page polls ten times, then waits for a reload."""
    b, _url, no = pay("wechat")
    controls.set(providers, "wechat", amount_delta=-1, refund="processing")
    controls.pay(providers, "wechat", no)
    controls.deliver_pending(providers)
    hx = {"HX-Request": "true"}
    assert "poll=10" in text(b.get(f"/pay/orders/{no}?poll=9", headers=hx))
    last = text(b.get(f"/pay/orders/{no}?poll=10", headers=hx))
    assert "退款中" in last and "hx-trigger" not in last


def test_alipay_leaving_the_cashier_reads_cancelled_at_once(app, providers, pay):
    """Issue 20 item 11: 返回商户 at Alipay's cashier. Alipay answers WAIT_BUYER_PAY (the buyer opened the cashier
    and left) or TRADE_NOT_EXIST (never logged in): either is "not paid", so the order is closed there at once
    and the page says 已取消, as with WeChat and UnionPay — not 支付结果确认中 for 80 seconds."""
    b, _url, no = pay("alipay")
    token = controls.trade(providers, "alipay", no)["token"]
    back = b.cashier.post(f"/sim/alipay/cashier/{token}", data={"action": "cancel"})
    assert back.status_code == 303
    page = text(b.follow(back))
    assert "已取消" in page and "支付结果确认中" not in page and "重新选择支付方式" in page
    assert order_state(app, no) == "closed" and controls.trade(providers, "alipay", no)["state"] == "CLOSED"


def test_D10_a_correctly_signed_notification_is_taken_after_60_refused_from_its_address(app, providers, pay):
    """Before: after 60 refused notifications from one address, the provider's genuine one from it got 429."""
    _b, _url, no = pay("alipay")
    address = "198.51.100.7"
    for _ in range(61):
        notes.post(app, "alipay", ({"Content-Type": "application/x-www-form-urlencoded"}, b"sign=forged"), address)
    limited = notes.post(app, "alipay", ({"Content-Type": "application/x-www-form-urlencoded"}, b"x=1"), address)
    assert limited.status_code == 429  # refused ones are still limited
    controls.pay(providers, "alipay", no)
    genuine = controls.outbox(providers)[-1]
    import json

    r = notes.post(app, "alipay", (json.loads(genuine["headers"]), genuine["body"]), address)
    assert r.status_code == 200 and r.get_data() == b"success"
    assert order_state(app, no) == "paid"
    with app.extensions["db_sessionmaker"]() as s:
        assert s.scalar(select(func.sum(NotificationTally.count))) <= 61
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.kind == "order.paid")) == 1


@pytest.mark.parametrize("pay_after", [0.0, 0.15])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_D1_concurrent_messages_queries_and_the_resident_paying_keep_the_ledger(
    app, providers, pay, provider, pay_after
):
    """A signed wrong-amount message races the resident paying that cashier (at once, or a moment later), with
    queries from the job and the return page at the same time: whichever wins, the money taken = settled +
    refunded, and nothing is refunded that was not taken."""
    import threading
    import time

    _b, _url, no = pay(provider)
    controls.set(providers, provider, notify="duplicate")
    errors, barrier = [], threading.Barrier(5)

    def step(fn):
        def go():
            try:
                barrier.wait()
                fn()
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        return go

    def reconcile():
        with app.extensions["db_sessionmaker"]() as s:
            orders.reconcile(s, app.extensions["payment_adapters"], _order(app, no).id, notes.at_now(app))
            s.commit()

    forged = notes.SIGNED[provider](app, providers, no, notes.ONE_FEN_SHORT[provider])
    threads = [
        threading.Thread(target=step(lambda: notes.post(app, provider, forged))),
        threading.Thread(target=step(lambda: (time.sleep(pay_after), controls.pay(providers, provider, no)))),
        threading.Thread(target=step(reconcile)),
        threading.Thread(target=step(reconcile)),
        threading.Thread(target=step(lambda: controls.deliver_pending(providers))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    controls.deliver_pending(providers)
    _reconcile(app)
    assert not errors
    assert notes.unbalanced(app, providers) == {}
    taken, settled, refunded = notes.ledger(app, providers)[no]
    assert (taken, settled, refunded) in ((0, 0, 0), (FEN, FEN, 0))
    assert order_state(app, no) == ("paid" if taken else "closed")
    assert len(notes.refunds(app)) == 0
    print(f"\n{provider}: {'paid and settled' if taken else 'closed first, nothing taken'}")
