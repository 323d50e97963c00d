"""The shared checkout as the payer sees it: 选择支付方式, 确认缴费, the cashier, coming back, waiting,
取消支付, paying another way, and what a refund looks like (R-CH-1, R-PA-1 … R-PA-5)."""

import re
import threading

import pytest
from sqlalchemy import func, select

from webapp import jobs
from webapp.models import Declaration, PaymentOrder, SettledPayment
from webapp.payments import orders
from webapp.payments.sim import controls

from ..conftest import text
from .flows import declare_for, order_state, start_order


def _count(app, model, *where):
    with app.extensions["db_sessionmaker"]() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def payer(phone_user, family):
    """王建国 in WeChat."""
    return phone_user(family.payer, "wechat")


@pytest.fixture
def order(payer, family):
    """A WeChat order for 王福生's 460.00, waiting at the cashier."""
    return start_order(payer, declare_for(payer, family.father.id), "wechat")


def test_R_PA_3_the_users_return_asks_the_provider_and_a_late_notification_is_harmless(app, providers, payer, order):
    controls.set(providers, "wechat", notify="delay", delay_seconds=60)
    controls.pay(providers, "wechat", order)
    r = payer.follow(payer.get(f"/pay/return/wechat/{order}"))
    assert "缴费成功" in text(r)  # settled by the query on return, before any notification
    assert controls.deliver_pending(providers, include_delayed=True) == 1
    assert _count(app, SettledPayment) == 1


def test_R_PA_3_still_paying_is_unknown_never_failed(app, providers, payer, order):
    controls.set(providers, "wechat", query="paying")
    r = payer.follow(payer.get(f"/pay/return/wechat/{order}"))
    assert "支付结果确认中" in text(r) and "取消支付" in text(r)
    assert order_state(app, order) == "paying"


def test_R_PA_3_the_waiting_page_polls_and_turns_into_the_result(providers, payer, order):
    controls.set(providers, "wechat", notify="drop")
    waiting = payer.get(f"/pay/orders/{order}")
    assert "支付结果确认中" in text(waiting) and 'hx-trigger="load delay:2s"' in text(waiting)
    controls.pay(providers, "wechat", order)
    poll = payer.get(f"/pay/orders/{order}?poll=1", headers={"HX-Request": "true"})
    assert "<html" not in text(poll) and "缴费成功" in text(poll)


def test_R_PA_3_cancel_closes_at_once_and_the_user_pays_another_way(app, providers, phone_user, family):
    b = phone_user(family.payer, "etax-app")
    method_url = declare_for(b, family.father.id)
    first = start_order(b, method_url, "alipay")
    r = b.post(f"/pay/orders/{first}/cancel")
    assert r.status_code == 303 and r.location == method_url
    assert order_state(app, first) == "closed"
    second = start_order(b, method_url, "unionpay")
    controls.pay(providers, "unionpay", second)
    controls.deliver_pending(providers)
    assert order_state(app, second) == "paid"


def test_R_PA_3_cancel_of_an_order_paid_meanwhile_reports_it_paid(app, providers, payer, order):
    """WeChat's close answers ORDERPAID: it was paid after all."""
    controls.set(providers, "wechat", notify="drop")
    controls.pay(providers, "wechat", order)
    r = payer.follow(payer.post(f"/pay/orders/{order}/cancel"))
    assert "缴费成功" in text(r) and order_state(app, order) == "paid"


def test_R_PA_3_cancel_that_the_provider_does_not_confirm_says_so_and_keeps_the_order(app, providers, payer, order):
    controls.set(providers, "wechat", unavailable=True)
    r = payer.post(f"/pay/orders/{order}/cancel")
    assert r.status_code == 503 and "为避免重复扣款" in text(r) and order_state(app, order) == "paying"


def test_R_PA_4_confirming_twice_leads_to_the_same_cashier(app, payer, family):
    method_url = declare_for(payer, family.father.id)
    payer.get(method_url)
    first = payer.post(method_url, {"method": "wechat"})
    second = payer.post(method_url, {"method": "wechat"})
    assert first.status_code == second.status_code == 303 and first.location == second.location
    assert _count(app, PaymentOrder) == 1


def test_R_PA_4_paying_for_a_declaration_already_paid_shows_the_result(app, providers, payer, family):
    method_url = declare_for(payer, family.father.id)
    no = start_order(payer, method_url, "wechat")
    controls.pay(providers, "wechat", no)
    controls.deliver_pending(providers)
    for r in (payer.get(method_url), payer.post(method_url, {"method": "wechat"})):
        assert r.status_code == 303 and r.location.endswith(f"/pay/orders/{no}")
    assert _count(app, PaymentOrder) == 1


def test_R_PA_5_a_wrong_amount_tells_the_payer_the_money_goes_back(app, providers, payer, order):
    controls.set(providers, "wechat", amount_delta=-46000 + 1)  # the cashier took 0.01
    controls.pay(providers, "wechat", order)
    controls.deliver_pending(providers)
    page = text(payer.get(f"/pay/orders/{order}"))
    assert "缴费未完成" in page and "原路退回" in page and "已退款" in page and "¥0.01" in page
    assert "重新选择支付方式" in page  # the declaration is free to be paid again


def test_R_CH_1_a_method_the_channel_does_not_offer_is_refused(app, payer, family):
    method_url = declare_for(payer, family.father.id)
    payer.get(method_url)
    r = payer.post(method_url, {"method": "unionpay"})
    assert r.status_code == 422 and "请选择本渠道支持的支付方式" in text(r)
    assert _count(app, PaymentOrder) == 0


def test_R_CH_1_e_tax_web_offers_unionpay_only_and_it_settles(app, providers, phone_user, family):
    b = phone_user(family.payer, "etax-web")
    method_url = declare_for(b, family.father.id)
    page = text(b.get(method_url))
    assert "银联支付" in page and "微信支付" not in page
    no = start_order(b, method_url, "unionpay")
    controls.pay(providers, "unionpay", no)
    controls.deliver_pending(providers)
    assert order_state(app, no) == "paid"


def test_alipay_return_url_params_prove_nothing(app, phone_user, family):
    b = phone_user(family.payer, "alipay")
    no = start_order(b, declare_for(b, family.father.id), "alipay")
    r = b.get(f"/pay/return/alipay/{no}?trade_status=TRADE_SUCCESS&total_amount=460.00&sign=forged")
    assert r.status_code == 303 and order_state(app, no) != "paid"
    assert _count(app, SettledPayment) == 0


def test_R_PA_3_back_at_the_merchant_unpaid_reads_cancelled_with_the_ways_to_pay_again(app, payer, order):
    """返回商户 at the cashier without paying: the provider says unpaid, so the order is closed there at once and
    the page says 已取消 (not 支付结果确认中 for ever), offering 重新选择支付方式."""
    page = text(payer.follow(payer.get(f"/pay/return/wechat/{order}")))
    assert "已取消" in page and "重新选择支付方式" in page and "支付结果确认中" not in page
    assert order_state(app, order) == "closed"


def test_someone_elses_order_is_404(app, phone_user, family, order):
    from tests.factories import make_resident

    with app.extensions["db_sessionmaker"](expire_on_commit=False) as s:
        other = make_resident(s, "路人")
        s.commit()
    b = phone_user(other)
    for r in (
        b.get(f"/pay/orders/{order}"),
        b.get(f"/pay/return/wechat/{order}"),
        b.post(f"/pay/orders/{order}/cancel"),
    ):
        assert r.status_code == 404
    assert order_state(app, order) == "paying"


def test_notifications_are_retried_until_the_app_takes_them(app, providers, order, monkeypatch):
    calls = []
    real = orders.handle_notification

    def flaky(session, adapter, headers, body, now):
        calls.append(1)
        if len(calls) <= 2:
            return adapter.ack(False), None
        return real(session, adapter, headers, body, now)

    monkeypatch.setattr(orders, "handle_notification", flaky)
    controls.pay(providers, "wechat", order)
    for _ in range(5):
        controls.deliver_pending(providers)
    assert len(calls) == 3 and order_state(app, order) == "paid"


def test_R_PA_3_the_periodic_job_reconciles_unfinished_orders(app, providers, order, monkeypatch):
    """The huey task runs on an app built once per process, and settles an order whose notification was lost."""
    controls.set(providers, "wechat", notify="drop")
    controls.pay(providers, "wechat", order)
    monkeypatch.setattr(jobs, "app", lambda: app)
    monkeypatch.setitem(app.config, "RECONCILE_AFTER_SECONDS", -600)
    assert jobs.reconcile_unfinished_orders.call_local() == 1
    assert order_state(app, order) == "paid"


def test_R_PA_1_two_concurrent_submits_of_one_receivable_give_one_declaration(app, payer, family):
    page = text(payer.get(f"/rm/pay/select?insured={family.father.id}"))
    rid = re.findall(r'name="receivable" value="(\d+)"', page)
    token, cookie = payer.token, payer.client.get_cookie("session").value
    results, barrier = [], threading.Barrier(2)

    def submit():
        c = app.test_client()
        c.set_cookie("session", cookie)
        barrier.wait()
        results.append(
            c.post(
                "/rm/pay/select", data={"insured": str(family.father.id), "receivable": rid, "csrf_token": token}
            ).status_code
        )

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [303, 422]
    assert _count(app, Declaration, Declaration.insured_id == family.father.id) == 1
