"""The payment core against the simulated providers: signatures, settling exactly once, reconciling
unfinished orders and cancelling them (R-PA-1, R-PA-2, R-PA-3)."""

import json
import re
import threading
from datetime import UTC, timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from webapp.models import AuditEvent, Declaration, PaymentOrder, Refund, SettledPayment
from webapp.payments import orders
from webapp.payments.base import ProviderStatus, SignatureError
from webapp.payments.sim import controls

from .conftest import Browser, text
from .flows import declare_for, order_state, person_id, start_order

FATHER = "110102195004050010"


def _settled(app) -> int:
    with app.extensions["db_sessionmaker"]() as s:
        return s.scalar(select(func.count()).select_from(SettledPayment))


def _audits(app, kind) -> int:
    with app.extensions["db_sessionmaker"]() as s:
        return s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.kind == kind))


@pytest.fixture
def order(wechat_user, seeded):
    """A WeChat order for 王福生's premium, created and waiting at the cashier."""
    method_url = declare_for(wechat_user, person_id(seeded, FATHER))
    return start_order(wechat_user, method_url, "wechat")


def test_R_PA_1_duplicate_notification_settles_once(seeded, order):
    base = _settled(seeded)
    controls.set(seeded, "wechat", notify="duplicate")
    controls.pay(seeded, "wechat", order)
    assert controls.deliver_pending(seeded) == 2
    assert order_state(seeded, order) == "paid"
    assert _settled(seeded) == base + 1
    assert _audits(seeded, "order.duplicate_paid") == 1
    assert all(o["last_status"] == 204 for o in controls.outbox(seeded))  # both acknowledged


def test_R_PA_3_notification_after_the_users_return_is_harmless(wechat_user, seeded, order):
    base = _settled(seeded)
    controls.set(seeded, "wechat", notify="delay", delay_seconds=60)
    controls.pay(seeded, "wechat", order)
    r = wechat_user.follow(wechat_user.get(f"/pay/return/wechat/{order}"))
    assert "缴费成功" in text(r)  # settled by the query on return, before any notification
    assert controls.deliver_pending(seeded, include_delayed=True) == 1
    assert _settled(seeded) == base + 1


def test_R_PA_2_forged_notification_is_refused_and_settles_nothing(seeded, order):
    base = _settled(seeded)
    controls.set(seeded, "wechat", notify="missign")
    controls.pay(seeded, "wechat", order)
    controls.deliver_pending(seeded)
    assert order_state(seeded, order) == "paying"
    assert _settled(seeded) == base
    assert controls.outbox(seeded)[0]["last_status"] == 400  # WeChat is asked to retry
    assert _audits(seeded, "notify.bad_signature") == 1


def test_R_PA_2_wechat_signtest_probe_is_rejected(seeded, order):
    controls.set(seeded, "wechat", probe=True)
    controls.pay(seeded, "wechat", order)
    controls.deliver_pending(seeded)
    statuses = [o["last_status"] for o in controls.outbox(seeded)]
    assert statuses == [400, 204]  # the probe refused, the real one accepted
    assert order_state(seeded, order) == "paid"


def test_R_PA_2_notification_with_a_wrong_amount_does_not_settle(seeded, order):
    base = _settled(seeded)
    with seeded.extensions["db_sessionmaker"]() as s:
        o = s.scalar(select(PaymentOrder).where(PaymentOrder.out_trade_no == order))
        o.amount_fen = 100  # our record says 1.00: the provider's 460.00 must not settle it
        s.commit()
    controls.pay(seeded, "wechat", order)
    controls.deliver_pending(seeded)
    assert order_state(seeded, order) == "paying"
    assert _settled(seeded) == base
    assert _audits(seeded, "order.amount_mismatch") == 1


def test_R_PA_2_notification_for_an_unknown_order_is_refused(seeded):
    adapter = seeded.extensions["payment_adapters"]["alipay"]
    sim = seeded.extensions["sim"]
    from webapp.payments.crypto import rsa_sign, sign_string

    params = {"app_id": adapter.app_id, "out_trade_no": "SBNOSUCHORDER0001", "trade_status": "TRADE_SUCCESS",
              "total_amount": "460.00", "trade_no": "2026X", "notify_id": "n1"}
    params["sign_type"] = "RSA2"
    params["sign"] = rsa_sign(sim.platform_key("alipay"), sign_string(params, ("sign", "sign_type")))
    r = seeded.test_client().post("/pay/notify/alipay", data=urlencode(params),
                                  content_type="application/x-www-form-urlencoded")
    assert r.get_data() == b"fail"
    assert _audits(seeded, "notify.unknown_order") == 1


def test_R_PA_3_lost_notification_is_settled_by_the_periodic_query(seeded, order):
    base = _settled(seeded)
    controls.set(seeded, "wechat", notify="drop")
    controls.pay(seeded, "wechat", order)
    assert controls.deliver_pending(seeded) == 0
    assert order_state(seeded, order) == "paying"
    clock = seeded.extensions["clock"]
    with seeded.extensions["db_sessionmaker"]() as s:
        n = orders.reconcile_all(s, seeded.extensions["payment_adapters"], clock.now() + timedelta(minutes=5),
                                 clock.now())
    assert n == 1
    assert order_state(seeded, order) == "paid" and _settled(seeded) == base + 1


def test_R_PA_3_still_paying_is_unknown_never_failed(wechat_user, seeded, order):
    controls.set(seeded, "wechat", query="paying")
    r = wechat_user.follow(wechat_user.get(f"/pay/return/wechat/{order}"))
    assert "支付结果确认中" in text(r) and "取消支付" in text(r)
    assert order_state(seeded, order) == "paying"


def test_R_PA_3_cancel_closes_at_once_and_the_user_pays_another_way(seeded, browser: Browser):
    browser.get("/?ch=etax-app")
    browser.login("王建国", "110105198003120032")
    method_url = declare_for(browser, person_id(seeded, FATHER))
    first = start_order(browser, method_url, "alipay")
    assert order_state(seeded, first) == "paying"
    r = browser.post(f"/pay/orders/{first}/cancel")
    assert r.status_code == 303 and r.location == method_url
    assert order_state(seeded, first) == "closed"
    second = start_order(browser, method_url, "unionpay")
    controls.pay(seeded, "unionpay", second)
    controls.deliver_pending(seeded)
    assert order_state(seeded, second) == "paid"


def test_R_PA_3_cancel_of_an_order_paid_meanwhile_reports_it_paid(wechat_user, seeded, order):
    """WeChat's close answers ORDERPAID: it was paid after all."""
    controls.set(seeded, "wechat", notify="drop")
    controls.pay(seeded, "wechat", order)
    r = wechat_user.follow(wechat_user.post(f"/pay/orders/{order}/cancel"))
    assert "缴费成功" in text(r)
    assert order_state(seeded, order) == "paid"


def test_R_PA_3_paying_again_closes_the_old_order_first(wechat_user, seeded, order):
    with seeded.extensions["db_sessionmaker"]() as s:
        decl_id = s.scalar(select(PaymentOrder.declaration_id).where(PaymentOrder.out_trade_no == order))
    second = start_order(wechat_user, f"/rm/pay/{decl_id}/method", "wechat")
    assert second != order
    assert order_state(seeded, order) == "closed"
    # the old cashier can no longer take money
    sim = seeded.extensions["sim"]
    with seeded.app_context():
        assert sim.store.trade("wechat", order)["state"] == "CLOSED"


def test_alipay_query_before_the_buyer_confirms_is_unknown_not_failed(seeded, browser: Browser):
    browser.get("/?ch=alipay")
    browser.login("王建国", "110105198003120032")
    method_url = declare_for(browser, person_id(seeded, FATHER))
    assert "支付宝" in text(browser.get(method_url))
    no = start_order(browser, method_url, "alipay", visit=False)
    adapter = seeded.extensions["payment_adapters"]["alipay"]
    assert adapter.query(no).status is ProviderStatus.NOT_FOUND
    r = browser.follow(browser.get(f"/pay/return/alipay/{no}"))
    assert "支付结果确认中" in text(r) and order_state(seeded, no) == "paying"
    cashier = re.search(r'href="http://localhost(/sim/alipay/gateway.do[^"]+)"', text(r)).group(1)
    assert "收银台" in text(browser.follow(browser.get(cashier.replace("&amp;", "&"))))
    controls.pay(seeded, "alipay", no)
    assert adapter.query(no).status is ProviderStatus.PAID
    controls.deliver_pending(seeded)
    assert controls.outbox(seeded)[-1]["last_status"] == 200
    assert order_state(seeded, no) == "paid"


def test_alipay_return_url_params_prove_nothing(seeded, browser: Browser):
    browser.get("/?ch=alipay")
    browser.login("王建国", "110105198003120032")
    no = start_order(browser, declare_for(browser, person_id(seeded, FATHER)), "alipay")
    r = browser.get(f"/pay/return/alipay/{no}?trade_status=TRADE_SUCCESS&total_amount=460.00&sign=forged")
    assert order_state(seeded, no) == "paying"
    assert r.status_code == 303


def test_unionpay_back_notification_settles(seeded, browser: Browser):
    browser.get("/?ch=etax-web")
    browser.login("王建国", "110105198003120032")
    method_url = declare_for(browser, person_id(seeded, FATHER))
    page = text(browser.get(method_url))
    assert "银联支付" in page and "微信支付" not in page
    no = start_order(browser, method_url, "unionpay")
    controls.pay(seeded, "unionpay", no)
    controls.deliver_pending(seeded)
    assert order_state(seeded, no) == "paid"


def test_notifications_are_retried_on_the_providers_schedule(seeded, order, monkeypatch):
    calls = []
    real = orders.handle_notification

    def flaky(session, adapter, headers, body, now):
        calls.append(1)
        if len(calls) <= 2:
            return adapter.ack(False)
        return real(session, adapter, headers, body, now)

    monkeypatch.setattr(orders, "handle_notification", flaky)
    controls.pay(seeded, "wechat", order)
    for _ in range(5):
        controls.deliver_pending(seeded)
    assert len(calls) == 3 and order_state(seeded, order) == "paid"


def test_refund_is_keyed_by_out_refund_no(seeded, order):
    controls.pay(seeded, "wechat", order)
    adapter = seeded.extensions["payment_adapters"]["wechat"]
    first = adapter.refund(order, "RF1", 46000, 46000)
    again = adapter.refund(order, "RF1", 46000, 46000)
    assert first.accepted and again.provider_refund_id == first.provider_refund_id


def test_wechat_rejects_malformed_out_trade_no(seeded):
    from datetime import datetime

    from webapp.payments.base import OrderRequest, PaymentError

    adapter = seeded.extensions["payment_adapters"]["wechat"]
    now = datetime.now(UTC)
    with pytest.raises(PaymentError):
        adapter.create(OrderRequest("AB1", 100, "x", now, "http://localhost/n", "http://localhost/r", now))


def test_wechat_notification_resource_is_aes_gcm_encrypted(seeded, order):
    controls.pay(seeded, "wechat", order)
    body = json.loads(controls.outbox(seeded)[0]["body"])
    assert body["resource"]["algorithm"] == "AEAD_AES_256_GCM" and order not in json.dumps(body)
    adapter = seeded.extensions["payment_adapters"]["wechat"]
    with pytest.raises(SignatureError):
        adapter.verify_notification({"Wechatpay-Signature": "WECHATPAY/SIGNTEST/xx"}, b"{}")


def test_R_PA_1_two_concurrent_submits_of_one_receivable_give_one_declaration(wechat_user, seeded):
    father = person_id(seeded, FATHER)
    page = text(wechat_user.get(f"/rm/pay/select?insured={father}"))
    rid = re.findall(r'name="receivable" value="(\d+)"', page)
    token = wechat_user.token
    cookie = wechat_user.client.get_cookie("session").value
    results = []
    barrier = threading.Barrier(2)

    def submit():
        c = seeded.test_client()
        c.set_cookie("session", cookie)
        barrier.wait()
        results.append(c.post("/rm/pay/select", data={"insured": str(father), "receivable": rid,
                                                      "csrf_token": token}).status_code)

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [303, 422]
    with seeded.extensions["db_sessionmaker"]() as s:
        assert s.scalar(select(func.count()).select_from(Declaration).where(Declaration.insured_id == father)) == 1


def test_R_PA_1_concurrent_notifications_and_query_settle_exactly_once(seeded, order):
    base = _settled(seeded)
    controls.set(seeded, "wechat", notify="duplicate")
    controls.pay(seeded, "wechat", order)
    adapter = seeded.extensions["payment_adapters"]["wechat"]
    errors = []

    def reconcile():
        try:
            with seeded.extensions["db_sessionmaker"]() as s:
                o = s.scalar(select(PaymentOrder).where(PaymentOrder.out_trade_no == order))
                orders.reconcile(s, adapter, o, seeded.extensions["clock"].now())
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=reconcile) for _ in range(3)]
    threads.append(threading.Thread(target=lambda: controls.deliver_pending(seeded)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert _settled(seeded) == base + 1 and order_state(seeded, order) == "paid"


def test_paid_after_void_is_refunded_not_settled_twice(wechat_user, seeded, order):
    """An old cashier paid after the declaration moved on: the money goes back (a refund, sent once)."""
    controls.set(seeded, "wechat", notify="drop")
    controls.pay(seeded, "wechat", order)
    with seeded.extensions["db_sessionmaker"]() as s:
        o = s.scalar(select(PaymentOrder).where(PaymentOrder.out_trade_no == order))
        orders.apply(s, o.id, ProviderStatus.CLOSED, amount_fen=None, txn_id="", paid_at=None,
                     now=seeded.extensions["clock"].now())
    with seeded.extensions["db_sessionmaker"]() as s:
        o = s.scalar(select(PaymentOrder).where(PaymentOrder.out_trade_no == order))
        decl = s.get(Declaration, o.declaration_id)
        from webapp.domain import declarations

        declarations.void(s, decl, seeded.extensions["clock"].now())
        s.commit()
        orders.apply(s, o.id, ProviderStatus.PAID, amount_fen=o.amount_fen, txn_id="late", paid_at=None,
                     now=seeded.extensions["clock"].now())
    with seeded.extensions["db_sessionmaker"]() as s:
        assert s.scalar(select(func.count()).select_from(Refund)) == 1
        assert orders.send_refunds(s, seeded.extensions["payment_adapters"]) == 1
        assert s.scalar(select(Refund.state)) == "accepted"
        assert orders.send_refunds(s, seeded.extensions["payment_adapters"]) == 0


def test_R_PA_3_the_periodic_job_reconciles_unfinished_orders(seeded, order, monkeypatch, tmp_path):
    """The huey task builds the app from the environment and settles an order whose notification was lost."""
    from webapp import tasks

    controls.set(seeded, "wechat", notify="drop")
    controls.pay(seeded, "wechat", order)
    monkeypatch.setattr("webapp.create_app", lambda: seeded)
    monkeypatch.setitem(seeded.config, "RECONCILE_AFTER_SECONDS", -600)
    assert tasks.reconcile_unfinished_orders.call_local() == 1
    assert order_state(seeded, order) == "paid"


def test_R_PA_3_the_waiting_page_polls_and_turns_into_the_result(wechat_user, seeded, order):
    controls.set(seeded, "wechat", notify="drop")
    waiting = wechat_user.get(f"/pay/orders/{order}")
    assert "支付结果确认中" in text(waiting) and 'hx-trigger="load delay:2s"' in text(waiting)
    controls.pay(seeded, "wechat", order)
    poll = wechat_user.get(f"/pay/orders/{order}?poll=1", headers={"HX-Request": "true"})
    assert "<html" not in text(poll) and "缴费成功" in text(poll)


def test_R_PA_1_reordered_notifications_still_settle_each_order_once(wechat_user, seeded):
    """Two orders' notifications delivered newest first: each settles its own declaration, once."""
    base = _settled(seeded)
    first = start_order(wechat_user, declare_for(wechat_user, person_id(seeded, FATHER)), "wechat")
    second = start_order(wechat_user, declare_for(wechat_user, person_id(seeded, "110105201506010040")), "wechat")
    controls.set(seeded, "wechat", reorder=True)
    controls.pay(seeded, "wechat", first)
    controls.pay(seeded, "wechat", second)
    assert controls.deliver_pending(seeded) == 2
    assert [o["out_trade_no"] for o in controls.outbox(seeded)] == [first, second]  # queued in order …
    with seeded.extensions["db_sessionmaker"]() as s:
        settled_order = list(s.scalars(select(AuditEvent.subject).where(AuditEvent.kind == "order.paid")
                                       .order_by(AuditEvent.id)))
    assert settled_order[-2:] == [second, first]  # … delivered newest first
    assert _settled(seeded) == base + 2
