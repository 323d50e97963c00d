"""The simulations and the adapters speak the providers' real protocols, checked against implementations
that are not ours: the public ``wechatpayv3`` and ``python-alipay-sdk`` packages verify what our
simulated providers sign and sign what they verify; UnionPay 5.1.0's digest-then-sign is recomputed here
from its specification with plain ``hashlib`` and ``cryptography`` (R-PA-2, R-PA-5)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from alipay import AliPay
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.utils import build_authorization

from webapp.payments.sim import controls
from webapp.payments.sim.notifier import SCHEDULES

from .conftest import start


def _pem(app, rel: str) -> str:
    return (Path(app.instance_path) / rel).read_text()


@pytest.fixture
def order(app, declare):
    """A WeChat order waiting at the cashier."""
    return start(app, declare(), "wechat")


def _wechatpay(app, serial: str) -> WeChatPay:
    adapter = app.extensions["payment_adapters"]["wechat"]
    return WeChatPay(
        wechatpay_type=WeChatPayType.JSAPI,
        mchid=adapter.mchid,
        private_key=_pem(app, "keys/wechat_merchant.pem"),
        cert_serial_no=adapter.serial_no,
        appid=adapter.appid,
        apiv3_key=(Path(app.instance_path) / "keys/wechat_apiv3.key").read_text(),
        public_key=_pem(app, "sim/keys/wechat_platform.pub.pem"),
        public_key_id=serial,
    )


def test_R_PA_2_wechatpayv3_verifies_and_decrypts_our_simulated_notification(app, providers, order):
    controls.pay(providers, "wechat", order.out_trade_no)  # queued, not sent: the SDK reads it first
    sent = controls.outbox(providers)[0]
    headers, body = json.loads(sent["headers"]), sent["body"]
    assert headers["Wechatpay-Serial"] == app.extensions["payment_adapters"]["wechat"].platform_key_id
    result = _wechatpay(app, headers["Wechatpay-Serial"]).callback(headers, body)
    assert result is not None, "wechatpayv3 refused the simulation's signature"
    tx = result["resource"]
    assert tx["out_trade_no"] == order.out_trade_no and tx["trade_state"] == "SUCCESS"
    assert tx["amount"]["total"] == order.amount_fen
    tampered = body.replace(b"TRANSACTION.SUCCESS", b"TRANSACTION.SUCCESX")
    assert _wechatpay(app, headers["Wechatpay-Serial"]).callback(headers, tampered) is None


def test_R_PA_2_our_simulated_wechat_accepts_wechatpayv3_signed_requests_and_signs_its_answers(app, providers, order):
    adapter = app.extensions["payment_adapters"]["wechat"]
    sdk = _wechatpay(app, adapter.platform_key_id)
    path = f"/sim/wechat/v3/pay/transactions/out-trade-no/{order.out_trade_no}?mchid={adapter.mchid}"
    key = serialization.load_pem_private_key(_pem(app, "keys/wechat_merchant.pem").encode(), password=None)
    auth = build_authorization(path, "GET", adapter.mchid, adapter.serial_no, key)
    r = providers.test_client().get(path, headers={"Authorization": auth})
    assert r.status_code == 200 and r.json["trade_state"] == "NOTPAY"
    assert sdk._core._verify_signature(dict(r.headers), r.get_data(as_text=True))
    forged = build_authorization(
        path,
        "GET",
        adapter.mchid,
        adapter.serial_no,
        serialization.load_pem_private_key(_pem(app, "keys/alipay_app.pem").encode(), None),
    )
    assert providers.test_client().get(path, headers={"Authorization": forged}).status_code == 401


def _alipay(app) -> AliPay:
    adapter = app.extensions["payment_adapters"]["alipay"]
    return AliPay(
        appid=adapter.app_id,
        app_private_key_string=_pem(app, "keys/alipay_app.pem"),
        alipay_public_key_string=_pem(app, "sim/keys/alipay_platform.pub.pem"),
        sign_type="RSA2",
    )


def test_R_PA_2_python_alipay_sdk_verifies_our_simulated_notification(app, providers, declare):
    order = start(app, declare(), "alipay")
    controls.pay(providers, "alipay", order.out_trade_no)
    form = dict(parse_qsl(controls.outbox(providers)[0]["body"].decode()))
    sign = form.pop("sign")
    assert _alipay(app).verify(dict(form), sign)
    form["total_amount"] = "0.01"
    assert not _alipay(app).verify(dict(form), sign)


def test_R_PA_2_our_simulated_alipay_takes_sdk_signed_requests_and_its_answers_verify(app, providers, declare):
    order = start(app, declare(), "alipay")
    sdk = _alipay(app)
    query = sdk.sign_data(sdk.build_body("alipay.trade.query", {"out_trade_no": order.out_trade_no}))
    raw = providers.test_client().get(f"/sim/alipay/gateway.do?{query}").get_data(as_text=True)
    answer = sdk._verify_and_return_sync_response(raw, "alipay_trade_query_response")  # raises if forged
    assert answer["code"] == "10000" and answer["trade_status"] == "WAIT_BUYER_PAY"
    wap = sdk.api_alipay_trade_wap_pay(
        "城乡居民基本医疗保险费", "SBSDKORDER00000001", "12.34", notify_url="http://localhost/pay/notify/alipay"
    )
    r = providers.test_client().get(f"/sim/alipay/gateway.do?{wap}")
    assert r.status_code == 302 and "/sim/alipay/cashier/" in r.location  # accepted: on to the cashier


def _unionpay_string(params: dict[str, str]) -> bytes:
    """UnionPay 5.1.0, from its specification: sorted key=value pairs joined by &, without signature."""
    text = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "signature")
    return hashlib.sha256(text.encode("utf-8")).hexdigest().encode("utf-8")


def test_R_PA_2_unionpay_messages_are_signed_as_5_1_0_says(app, providers, declare):
    order = start(app, declare(), "unionpay")
    # What our adapter sent the gateway (the front transaction it built) …
    front = dict(parse_qsl(urlsplit(order.cashier_url).query))
    merchant = serialization.load_pem_public_key(_pem(app, "keys/unionpay_merchant.pub.pem").encode())
    merchant.verify(
        base64.b64decode(front["signature"]), _unionpay_string(front), padding.PKCS1v15(), hashes.SHA256()
    )  # raises if not RSA-SHA256 over the hex digest
    assert front["version"] == "5.1.0" and front["signMethod"] == "01" and front["certId"].isdigit()
    # … and what the simulated UnionPay notified.
    controls.pay(providers, "unionpay", order.out_trade_no)
    note = dict(parse_qsl(controls.outbox(providers)[0]["body"].decode()))
    platform = serialization.load_pem_public_key(_pem(app, "sim/keys/unionpay_platform.pub.pem").encode())
    platform.verify(base64.b64decode(note["signature"]), _unionpay_string(note), padding.PKCS1v15(), hashes.SHA256())
    assert note["signPubKeyCert"].strip() == _pem(app, "sim/keys/unionpay_platform.pub.pem").strip()


def test_R_PA_5_unionpay_refuses_a_request_naming_another_certId(app, providers, declare):
    order = start(app, declare(), "unionpay", visit=False)
    params = dict(parse_qsl(urlsplit(order.cashier_url).query))
    params["certId"] = "1"
    r = providers.test_client().get("/sim/unionpay/gateway/api/frontTransReq.do", query_string=params)
    assert r.status_code == 400 and "验签失败" in r.get_data(as_text=True)


def test_the_providers_retry_schedules():
    """WeChat: 15 retries in 24h 4m; Alipay: 8 deliveries in 24h 24m; UnionPay: five deliveries, 0, 1, 2 and
    4 minutes apart."""
    assert len(SCHEDULES["wechat"]) == 15 and sum(SCHEDULES["wechat"]) == 24 * 3600 + 4 * 60
    assert len(SCHEDULES["alipay"]) == 7 and sum(SCHEDULES["alipay"]) == 24 * 3600 + 24 * 60
    assert SCHEDULES["unionpay"] == [0, 60, 120, 240]


def test_a_notification_nobody_takes_is_given_up_after_the_providers_last_attempt(app, providers, declare, monkeypatch):
    from webapp.payments import orders

    order = start(app, declare(), "unionpay")
    monkeypatch.setattr(orders, "handle_notification", lambda s, adapter, *a: (adapter.ack(False), None))
    controls.pay(providers, "unionpay", order.out_trade_no)
    for _ in range(10):
        controls.deliver_pending(providers)
    sent = controls.outbox(providers)[0]
    assert sent["attempts"] == 5 and sent["status"] == "gave_up"
