"""The payment core against the simulated providers, without pages: settling exactly once whatever the
notifications say, refusing forged, stale and unknown ones, refunding money that cannot settle, a clock
that runs, and orders closed only when the provider confirms (R-PA-1 … R-PA-6)."""

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from webapp import jobs
from webapp.models import AuditEvent, Declaration, NotificationTally, PaymentOrder, Refund, SettledPayment
from webapp.payments import orders
from webapp.payments.base import OrderRequest, ProviderRefused, ProviderStatus, RefundRequest, RefundStatus
from webapp.payments.sim import controls
from webapp.services import declarations

from .conftest import start, state, urls, visit_cashier


def _count(app, model, *where):
    with app.extensions["db_sessionmaker"]() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def _audits(app, kind):
    return _count(app, AuditEvent, AuditEvent.kind == kind)


def _refused(app, outcome):
    """Refused notifications counted for a reason (``notification_tally``), across providers and minutes."""
    with app.extensions["db_sessionmaker"]() as s:
        return s.scalar(
            select(func.coalesce(func.sum(NotificationTally.count), 0)).where(NotificationTally.outcome == outcome)
        )


@pytest.fixture
def order(app, declare):
    """A WeChat order for the resident's 795.00, waiting at the cashier."""
    return start(app, declare(), "wechat")


def test_R_PA_1_duplicate_notification_settles_once(app, providers, order):
    controls.set(providers, "wechat", notify="duplicate")
    assert controls.pay(providers, "wechat", order.out_trade_no)
    assert controls.deliver_pending(providers) == 2
    assert state(app, order.out_trade_no) == "paid"
    assert _count(app, SettledPayment) == 1
    assert _audits(app, "order.duplicate_paid") == 1
    assert all(o["last_status"] == 204 for o in controls.outbox(providers))  # both acknowledged


def test_R_PA_5_forged_notification_is_refused_and_settles_nothing(app, providers, order):
    controls.set(providers, "wechat", notify="missign")
    controls.pay(providers, "wechat", order.out_trade_no)
    controls.deliver_pending(providers)
    assert state(app, order.out_trade_no) == "paying" and _count(app, SettledPayment) == 0
    assert controls.outbox(providers)[0]["last_status"] == 400  # WeChat is asked to retry
    assert _refused(app, "bad_signature") == 1


def test_R_PA_5_wechat_signtest_probe_is_rejected(app, providers, order):
    controls.set(providers, "wechat", probe=True)
    controls.pay(providers, "wechat", order.out_trade_no)
    controls.deliver_pending(providers)
    assert [o["last_status"] for o in controls.outbox(providers)] == [400, 204]  # the probe refused, the real one not
    assert state(app, order.out_trade_no) == "paid"


def test_R_PA_5_a_wechat_notification_more_than_five_minutes_old_is_refused(app, providers, order):
    controls.set(providers, "wechat", stale_seconds=6 * 60)
    controls.pay(providers, "wechat", order.out_trade_no)
    controls.deliver_pending(providers)
    assert controls.outbox(providers)[0]["last_status"] == 400
    assert state(app, order.out_trade_no) == "paying"
    controls.set(providers, "wechat", stale_seconds=4 * 60)  # within five minutes: fine
    controls.outbox(providers)
    with app.extensions["db_sessionmaker"]() as s:  # and the order is settled by asking, not by the stale note
        orders.reconcile(s, app.extensions["payment_adapters"], order.id, app.extensions["clock"].now())
        s.commit()
    assert state(app, order.out_trade_no) == "paid"


def test_R_PA_5_a_notification_signed_under_another_serial_is_refused(app, providers, order):
    controls.set(providers, "wechat", serial="PUB_KEY_ID_0100000000000000000001")
    controls.pay(providers, "wechat", order.out_trade_no)
    controls.deliver_pending(providers)
    assert controls.outbox(providers)[0]["last_status"] == 400
    assert state(app, order.out_trade_no) == "paying" and _refused(app, "bad_signature") == 1


def test_R_PA_5_a_wrong_amount_is_recorded_refunded_and_the_declaration_freed(app, providers, order):
    controls.set(providers, "wechat", amount_delta=-100)  # the cashier took 794.00 of 795.00
    controls.pay(providers, "wechat", order.out_trade_no)
    controls.deliver_pending(providers)
    assert controls.outbox(providers)[0]["last_status"] == 204  # handled: acknowledged, not retried for ever
    with app.extensions["db_sessionmaker"]() as s:
        o = s.scalar(select(PaymentOrder).where(PaymentOrder.out_trade_no == order.out_trade_no))
        assert o.state == "unapplied" and o.paid_amount_fen == 79400
        refund = s.scalar(select(Refund).where(Refund.order_id == o.id))
        assert refund.amount_fen == 79400 and refund.state == "succeeded"  # sent at once, in full
        decl = s.get(Declaration, o.declaration_id)
        assert decl.status == "declared" and orders.open_order(s, decl.id) is None
    assert _count(app, SettledPayment) == 0 and _audits(app, "order.amount_mismatch") == 1
    controls.set(providers, "wechat")
    again = start(app, order.declaration_id, "wechat")  # freed: the payer pays again
    assert again.out_trade_no != order.out_trade_no and again.state == "paying"
    controls.pay(providers, "wechat", again.out_trade_no)
    controls.deliver_pending(providers)
    assert state(app, again.out_trade_no) == "paid" and _count(app, SettledPayment) == 1


def test_R_PA_5_a_notification_for_an_unknown_order_is_refused(app, providers):
    from webapp.payments.crypto import rsa_sign, sign_string

    adapter = app.extensions["payment_adapters"]["alipay"]
    params = {
        "app_id": adapter.app_id,
        "out_trade_no": "SBNOSUCHORDER0001",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "460.00",
        "trade_no": "2026X",
        "notify_id": "n1",
    }
    params["sign_type"] = "RSA2"
    platform = providers.extensions["sim"].platform_key("alipay")
    params["sign"] = rsa_sign(platform, sign_string(params, ("sign", "sign_type")))
    from urllib.parse import urlencode

    r = app.test_client().post(
        "/pay/notify/alipay", data=urlencode(params), content_type="application/x-www-form-urlencoded"
    )
    assert r.get_data() == b"fail" and _refused(app, "unknown_order") == 1


@pytest.mark.parametrize("body", [b"\xff\xfe\x00garbage", b"", b"{}", "签名".encode("gbk")])
def test_R_PA_5_unreadable_notifications_are_refused_in_the_providers_words(app, body):
    client = app.test_client()
    assert client.post("/pay/notify/wechat", data=body).status_code == 400
    assert client.post("/pay/notify/alipay", data=body).get_data() == b"fail"
    assert client.post("/pay/notify/unionpay", data=body).status_code == 400
    assert client.post("/pay/notify/nobody", data=body).status_code == 404


def test_R_PA_3_a_lost_notification_is_settled_by_the_periodic_query(app, providers, order):
    controls.set(providers, "wechat", notify="drop")
    controls.pay(providers, "wechat", order.out_trade_no)
    assert controls.deliver_pending(providers) == 0
    app.extensions["clock"].advance(timedelta(seconds=61))
    assert jobs.reconcile(app) == 1
    assert state(app, order.out_trade_no) == "paid" and _count(app, SettledPayment) == 1


def test_R_PA_6_the_clock_runs_under_APP_TODAY(app):
    clock = app.extensions["clock"]
    assert clock.today().isoformat() == "2026-11-22"
    before = clock.now()
    time.sleep(0.02)
    assert clock.now() > before  # time keeps running from the day APP_TODAY names


def test_R_PA_6_reconcile_finds_orders_left_unfinished_as_time_passes(app, providers, order):
    """Before: with APP_TODAY the clock stood still and `payments reconcile` found 0 unfinished orders."""
    controls.set(providers, "wechat", notify="drop")
    controls.pay(providers, "wechat", order.out_trade_no)
    runner = app.test_cli_runner()
    assert "0 unfinished orders checked" in runner.invoke(args=["payments", "reconcile"]).output  # too recent
    app.extensions["clock"].advance(timedelta(seconds=61))
    assert "1 unfinished orders checked" in runner.invoke(args=["payments", "reconcile"]).output
    assert state(app, order.out_trade_no) == "paid"


def test_R_PA_6_an_order_left_at_the_cashier_expires_and_is_closed(app, providers, order):
    app.extensions["clock"].advance(timedelta(minutes=31))
    jobs.reconcile(app)
    assert state(app, order.out_trade_no) == "closed"
    assert controls.trade(providers, "wechat", order.out_trade_no)["state"] == "CLOSED"
    assert not controls.pay(providers, "wechat", order.out_trade_no)


def test_R_PA_4_the_same_method_again_gives_the_same_cashier(app, order):
    again = start(app, order.declaration_id, "wechat")
    assert again.out_trade_no == order.out_trade_no and again.cashier_url == order.cashier_url
    assert _count(app, PaymentOrder) == 1


def test_R_PA_4_another_method_closes_the_open_order_first(app, providers, order):
    second = start(app, order.declaration_id, "alipay")
    assert second.out_trade_no != order.out_trade_no
    assert state(app, order.out_trade_no) == "closed"
    assert not controls.pay(providers, "wechat", order.out_trade_no)  # the closed cashier refuses
    assert controls.pay(providers, "alipay", second.out_trade_no)
    controls.deliver_pending(providers)
    assert state(app, second.out_trade_no) == "paid" and _count(app, SettledPayment) == 1


def test_R_PA_4_an_order_paid_while_another_method_is_chosen_is_the_result(app, providers, order):
    controls.set(providers, "wechat", notify="drop")
    controls.pay(providers, "wechat", order.out_trade_no)  # paid, but we have not heard
    again = start(app, order.declaration_id, "alipay")  # the close answers ORDERPAID
    assert again.out_trade_no == order.out_trade_no and again.state == "paid"
    assert _count(app, PaymentOrder) == 1 and _count(app, SettledPayment) == 1


def test_R_PA_4_a_close_the_provider_does_not_confirm_keeps_the_order(app, providers, order):
    controls.set(providers, "wechat", unavailable=True)
    with pytest.raises(orders.OrderError, match="为避免重复扣款"):
        with app.extensions["db_sessionmaker"]() as s:
            orders.close(s, app.extensions["payment_adapters"], order.id, app.extensions["clock"].now())
    assert state(app, order.out_trade_no) == "paying"
    with pytest.raises(orders.OrderError):
        start(app, order.declaration_id, "alipay")
    assert _count(app, PaymentOrder) == 1  # nothing half-written
    controls.set(providers, "wechat")
    assert start(app, order.declaration_id, "alipay").state == "paying"
    assert state(app, order.out_trade_no) == "closed"


def test_R_PA_4_a_provider_that_does_not_answer_a_create_gets_a_clear_message(app, providers, declare):
    decl_id = declare()
    controls.set(providers, "wechat", unavailable=True)
    first = start(app, decl_id, "wechat")
    assert first.state == "created" and "暂时无法下单" in first.failure_reason
    assert _count(app, SettledPayment) == 0
    controls.set(providers, "wechat")
    app.extensions["clock"].advance(timedelta(seconds=61))
    jobs.reconcile(app)  # the unknown order is closed at the provider: its number can never be paid
    assert state(app, first.out_trade_no) == "closed"
    second = start(app, decl_id, "wechat")
    assert second.state == "paying" and second.out_trade_no != first.out_trade_no


def test_R_PA_4_a_create_that_lands_after_its_close_can_never_be_paid(app, providers):
    """The double charge seen before: tap B closed A while A's create was still in flight."""
    wechat = app.extensions["payment_adapters"]["wechat"]
    now = app.extensions["clock"].now()
    request = OrderRequest(
        "SBLATECREATE000001",
        79500,
        "城乡居民基本医疗保险费",
        now + timedelta(minutes=30),
        urls("wechat").notify_url,
        "http://localhost/r",
        now,
    )
    assert wechat.close(request.out_trade_no).status is ProviderStatus.CLOSED  # the close arrives first
    with pytest.raises(ProviderRefused, match="ORDERCLOSED"):
        wechat.create(request)  # then the create lands
    assert not controls.pay(providers, "wechat", request.out_trade_no)


def test_R_PA_4_money_arriving_after_a_void_is_refunded_not_settled(app, providers, order):
    controls.set(providers, "wechat", notify="drop")
    controls.pay(providers, "wechat", order.out_trade_no)
    adapters, now = app.extensions["payment_adapters"], app.extensions["clock"].now()
    wechat = adapters["wechat"]
    with app.extensions["db_sessionmaker"]() as s:  # pretend the void raced ahead of the provider
        orders.apply(
            s,
            wechat,
            order.id,
            ProviderStatus.CLOSED,
            amount_fen=None,
            txn_id="",
            paid_at=None,
            now=now,
            confirmed=True,
        )
        declarations._void(s, s.get(Declaration, order.declaration_id), now, order.payer_id)
        s.commit()
        orders.apply(s, wechat, order.id, ProviderStatus.PAID, amount_fen=79500, txn_id="late", paid_at=None, now=now)
        s.commit()
    assert state(app, order.out_trade_no) == "unapplied" and _count(app, SettledPayment) == 0
    sessions = app.extensions["db_sessionmaker"]
    assert orders.send_refunds(sessions, adapters, now) == 1
    assert orders.send_refunds(sessions, adapters, now) == 0
    with sessions() as s:
        assert s.scalar(select(Refund.state)) == "succeeded"


def test_a_refund_the_provider_cannot_take_now_is_retried(app, providers, order):
    controls.set(providers, "wechat", amount_delta=100, notify="drop")
    controls.pay(providers, "wechat", order.out_trade_no)
    with app.extensions["db_sessionmaker"]() as s:
        orders.reconcile(s, app.extensions["payment_adapters"], order.id, app.extensions["clock"].now())
        s.commit()
    assert state(app, order.out_trade_no) == "unapplied"
    controls.set(providers, "wechat", unavailable=True)
    sessions, adapters, now = (
        app.extensions["db_sessionmaker"],
        app.extensions["payment_adapters"],
        app.extensions["clock"].now(),
    )
    assert orders.send_refunds(sessions, adapters, now) == 0
    with sessions() as s:
        refund = s.scalar(select(Refund))
        assert refund.state == "requested" and refund.attempts == 1 and refund.amount_fen == 79600
    controls.set(providers, "wechat")
    assert orders.send_refunds(sessions, adapters, now) == 1
    assert orders.send_refunds(sessions, adapters, now) == 0


def test_R_PA_1_concurrent_notifications_and_queries_settle_exactly_once(app, providers, order):
    controls.set(providers, "wechat", notify="duplicate")
    controls.pay(providers, "wechat", order.out_trade_no)
    errors = []

    def reconcile():
        try:
            with app.extensions["db_sessionmaker"]() as s:
                orders.reconcile(s, app.extensions["payment_adapters"], order.id, app.extensions["clock"].now())
                s.commit()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=reconcile) for _ in range(3)]
    threads.append(threading.Thread(target=lambda: controls.deliver_pending(providers)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert _count(app, SettledPayment) == 1 and state(app, order.out_trade_no) == "paid"


def test_R_PA_1_reordered_notifications_still_settle_each_order_once(app, providers, declare, resident):
    from tests.factories import make_resident

    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        other = make_resident(s, "周二")
        s.commit()
    first, second = start(app, declare(), "wechat"), start(app, declare(other), "wechat")
    controls.set(providers, "wechat", reorder=True)
    controls.pay(providers, "wechat", first.out_trade_no)
    controls.pay(providers, "wechat", second.out_trade_no)
    assert controls.deliver_pending(providers) == 2
    with app.extensions["db_sessionmaker"]() as s:
        settled = list(
            s.scalars(select(AuditEvent.subject).where(AuditEvent.kind == "order.paid").order_by(AuditEvent.id))
        )
    assert settled == [second.out_trade_no, first.out_trade_no]  # delivered newest first
    assert _count(app, SettledPayment) == 2


def test_alipay_query_before_the_buyer_opens_the_cashier_is_unknown_not_failed(app, providers, declare):
    order = start(app, declare(), "alipay", visit=False)
    adapter = app.extensions["payment_adapters"]["alipay"]
    assert adapter.query(order.out_trade_no).status is ProviderStatus.NOT_FOUND
    with app.extensions["db_sessionmaker"]() as s:
        orders.reconcile(s, app.extensions["payment_adapters"], order.id, app.extensions["clock"].now())
        s.commit()
    assert state(app, order.out_trade_no) == "paying"
    assert "收银台" in visit_cashier(app, order.cashier_url)
    controls.pay(providers, "alipay", order.out_trade_no)
    assert adapter.query(order.out_trade_no).status is ProviderStatus.PAID
    controls.deliver_pending(providers)
    assert controls.outbox(providers)[-1]["last_status"] == 200 and state(app, order.out_trade_no) == "paid"


def test_an_alipay_cashier_link_closed_before_it_was_opened_can_never_pay(app, providers, declare):
    order = start(app, declare(), "alipay", visit=False)
    second = start(app, order.declaration_id, "unionpay")
    assert state(app, order.out_trade_no) == "closed" and second.state == "paying"
    page = visit_cashier(app, order.cashier_url)
    assert "交易已关闭" in page


@pytest.mark.parametrize("provider", ["wechat", "alipay", "unionpay"])
def test_R_PA_2_each_provider_settles_and_refunds(app, providers, declare, provider):
    order = start(app, declare(), provider)
    assert controls.pay(providers, provider, order.out_trade_no)
    controls.deliver_pending(providers)
    assert state(app, order.out_trade_no) == "paid"
    adapter = app.extensions["payment_adapters"][provider]
    now = app.extensions["clock"].now()

    def ask(no: str, fen: int) -> RefundRequest:
        return RefundRequest(order.out_trade_no, no, fen, 79500, requested_at=now)

    assert adapter.refund_status(ask("RFTEST0001", 100)).status is RefundStatus.NOT_FOUND  # nothing asked yet
    first = adapter.refund(ask("RFTEST0001", 100))
    again = adapter.refund(ask("RFTEST0001", 100))  # keyed: a retry is the same refund
    assert first.accepted and again.accepted and again.provider_refund_id == first.provider_refund_id
    done = adapter.refund_status(ask("RFTEST0001", 100))
    assert done.status is RefundStatus.SUCCEEDED and done.refunded_at is not None
    assert not adapter.refund(ask("RFTEST0002", 79500)).accepted  # more than is left to give back


@pytest.mark.parametrize("provider", ["wechat", "alipay", "unionpay"])
def test_D1_the_simulated_providers_answer_as_the_real_ones_refund_and_close(app, providers, declare, provider):
    """Where it matters for D1: a refund of an unpaid order is refused; a close of a paid order answers "paid" with
    what was taken (WeChat ORDERPAID then its query, Alipay ACQ.TRADE_STATUS_ERROR then its query, UnionPay's
    origRespCode 00); a refund beyond what is left is refused; WeChat answers a refund PROCESSING, then SUCCESS."""
    order = start(app, declare(), provider)
    adapter = app.extensions["payment_adapters"][provider]
    now = app.extensions["clock"].now()
    ask = RefundRequest(order.out_trade_no, f"RF{order.out_trade_no}", 79500, 79500, requested_at=now)
    refused = adapter.refund(ask)
    assert refused.status is RefundStatus.REFUSED and refused.reason  # 订单未支付 / ACQ.TRADE_STATUS_ERROR / 35
    controls.set(providers, provider, notify="drop", amount_delta=-5)
    assert controls.pay(providers, provider, order.out_trade_no)
    closed = adapter.close(order.out_trade_no)
    assert closed.status is ProviderStatus.PAID and closed.amount_fen == 79495 and closed.provider_txn_id
    assert not adapter.refund(RefundRequest(order.out_trade_no, "RFTOOMUCH01", 79500, 79495, now)).accepted
    sent = adapter.refund(
        RefundRequest(order.out_trade_no, f"RF{order.out_trade_no}", 79495, 79495, closed.provider_txn_id, now)
    )
    assert sent.status is (RefundStatus.SUCCEEDED if provider == "alipay" else RefundStatus.PROCESSING)
    done = adapter.refund_status(
        RefundRequest(order.out_trade_no, f"RF{order.out_trade_no}", 79495, 79495, closed.provider_txn_id, now)
    )
    assert done.status is RefundStatus.SUCCEEDED


def test_D1_a_refund_recorded_on_what_a_message_claimed_before_the_fix_is_voided_and_the_order_closed(
    app, providers, order
):
    """Rows the old code left: an order marked unapplied on a forged message and a refund the provider refused (the
    order was never paid). The migration makes the refund owed again; the sender asks the provider, which took
    nothing: the order is closed there (that cashier can never take money) and the refund is void."""
    with app.extensions["db_sessionmaker"]() as s:
        o = s.get(PaymentOrder, order.id)
        o.state, o.paid_amount_fen, o.failure_reason = "unapplied", 79499, orders.MSG_WRONG_AMOUNT
        s.add(Refund(order_id=o.id, out_refund_no=f"RF{o.out_trade_no}", amount_fen=79499, reason="x"))
        s.commit()
    sessions, adapters, now = (
        app.extensions["db_sessionmaker"],
        app.extensions["payment_adapters"],
        app.extensions["clock"].now(),
    )
    assert orders.send_refunds(sessions, adapters, now) == 0
    with sessions() as s:
        assert s.scalar(select(Refund.state)) == "void"
        o = s.get(PaymentOrder, order.id)
        assert o.state == "closed" and "未扣款" in o.failure_reason
    assert controls.trade(providers, "wechat", order.out_trade_no)["state"] == "CLOSED"
    assert not controls.pay(providers, "wechat", order.out_trade_no)
    assert orders.send_refunds(sessions, adapters, now) == 0  # nothing left to send


def test_the_money_migration_keeps_what_refunds_meant(tmp_path):
    """0010_money: an accepted refund (the simulations finished them at once) is succeeded, dated; a rejected one
    (asked on what a message claimed, never retried) is owed again, for the sender to check with the provider."""
    import sqlite3

    from alembic import command

    from webapp.migrate import alembic_config

    url = f"sqlite:///{tmp_path}/old.sqlite3"
    command.upgrade(alembic_config(url), "0008_flex")
    t = "'2026-11-20 02:00:00'"
    with sqlite3.connect(tmp_path / "old.sqlite3") as c:
        c.execute(
            f"INSERT INTO person (id, name, id_type, id_number, nationality, created_at) VALUES (1, '周一', "
            f"'resident_id', '110105198003120032', '中华人民共和国', {t})"
        )
        c.execute(
            f"INSERT INTO declaration (id, payer_id, insured_id, scheme, kind, total_fen, status, channel, "
            f"declared_at) VALUES (1, 1, 1, 'rm', 'normal', 300, 'declared', 'wechat', {t})"
        )
        for n in (1, 2):
            c.execute(
                f"INSERT INTO payment_order (id, out_trade_no, declaration_id, payer_id, provider, channel, "
                f"amount_fen, state, created_at, expires_at, updated_at) VALUES ({n}, 'SB{n}', 1, 1, 'wechat', "
                f"'wechat', 300, 'unapplied', {t}, {t}, {t})"
            )
        c.execute(
            "INSERT INTO refund (id, order_id, out_refund_no, amount_fen, reason, state, attempts, created_at, "
            "updated_at) VALUES (1, 1, 'RFA', 100, 'r', 'accepted', 1, '2026-11-20 02:00:00', '2026-11-20 02:00:05'),"
            " (2, 2, 'RFB', 200, 'r', 'rejected', 1, '2026-11-21 02:00:00', NULL)"
        )
    command.upgrade(alembic_config(url), "head")
    with sqlite3.connect(tmp_path / "old.sqlite3") as c:
        rows = c.execute("SELECT out_refund_no, state, refunded_at FROM refund ORDER BY id").fetchall()
    assert [(r[0], r[1], r[2] is not None) for r in rows] == [("RFA", "succeeded", True), ("RFB", "requested", False)]
    command.downgrade(alembic_config(url), "0008_flex")  # and back, for an operator who must
    with sqlite3.connect(tmp_path / "old.sqlite3") as c:
        assert c.execute("SELECT state FROM refund ORDER BY id").fetchall() == [("accepted",), ("requested",)]
