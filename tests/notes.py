"""Notifications signed with the simulated providers' own keys, carrying whatever a test says (an amount
that differs from the order, one that does not parse), as a provider whose key is used against us would
send them; and the ledger that must hold per order whatever they said (issue 17 D1)."""

from __future__ import annotations

import json
import secrets
from urllib.parse import urlencode

from flask import Flask
from sqlalchemy import func, select

from webapp.models import PaymentOrder, Refund, SettledPayment
from webapp.payments.base import BEIJING
from webapp.payments.crypto import (
    aes_gcm_encrypt,
    public_pem,
    rsa_sign,
    sign_string,
    unionpay_sign,
    wechat_public_key_id,
)


def wechat(app: Flask, providers: Flask, out_trade_no: str, total_json: str) -> tuple[dict[str, str], bytes]:
    """A TRANSACTION.SUCCESS notification signed by the platform key; ``total_json`` is the raw JSON of
    ``amount.total`` (``45999``, ``46000.0``, ``"46000"``)."""
    sim = providers.extensions["sim"]
    adapter = app.extensions["payment_adapters"]["wechat"]
    now = app.extensions["clock"].now()
    plain = (
        f'{{"appid":"{adapter.appid}","mchid":"{adapter.mchid}","out_trade_no":"{out_trade_no}",'
        f'"transaction_id":"4200{secrets.token_hex(8)}","trade_type":"JSAPI","trade_state":"SUCCESS",'
        f'"trade_state_desc":"支付成功","success_time":"{now.astimezone(BEIJING).isoformat(timespec="seconds")}",'
        f'"amount":{{"total":{total_json},"payer_total":{total_json},"currency":"CNY"}}}}'
    ).encode()
    nc = secrets.token_hex(6)
    body = json.dumps(
        {
            "id": secrets.token_hex(18),
            "create_time": now.astimezone(BEIJING).isoformat(timespec="seconds"),
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": aes_gcm_encrypt(sim.apiv3_key(), nc, "transaction", plain),
                "associated_data": "transaction",
                "nonce": nc,
            },
        },
        ensure_ascii=False,
    )
    ts, hn = str(int(now.timestamp())), secrets.token_hex(8)
    headers = {
        "Content-Type": "application/json",
        "Wechatpay-Timestamp": ts,
        "Wechatpay-Nonce": hn,
        "Wechatpay-Signature": rsa_sign(sim.platform_key("wechat"), f"{ts}\n{hn}\n{body}\n"),
        "Wechatpay-Serial": wechat_public_key_id(sim.platform_public("wechat")),
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }
    return headers, body.encode()


def alipay(app: Flask, providers: Flask, out_trade_no: str, total_amount: str) -> tuple[dict[str, str], bytes]:
    """A TRADE_SUCCESS form signed RSA2 by Alipay's key, saying ``total_amount`` (``459.99``, ``NaN``)."""
    sim = providers.extensions["sim"]
    now = app.extensions["clock"].now().astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    params = {
        "notify_time": now,
        "notify_type": "trade_status_sync",
        "notify_id": secrets.token_hex(16),
        "app_id": app.extensions["payment_adapters"]["alipay"].app_id,
        "charset": "utf-8",
        "version": "1.0",
        "trade_no": f"2026{secrets.token_hex(10)}",
        "out_trade_no": out_trade_no,
        "total_amount": total_amount,
        "receipt_amount": total_amount,
        "trade_status": "TRADE_SUCCESS",
        "gmt_payment": now,
    }
    params["sign_type"] = "RSA2"
    params["sign"] = rsa_sign(sim.platform_key("alipay"), sign_string(params, ("sign", "sign_type")))
    return {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, urlencode(params).encode()


def unionpay(app: Flask, providers: Flask, out_trade_no: str, txn_amt: str) -> tuple[dict[str, str], bytes]:
    """A back notification with respCode 00 signed by UnionPay's key, saying ``txnAmt`` (``45999``)."""
    sim = providers.extensions["sim"]
    adapter = app.extensions["payment_adapters"]["unionpay"]
    stamp = app.extensions["clock"].now().astimezone(BEIJING).strftime("%m%d%H%M%S")
    params = {
        "version": "5.1.0",
        "encoding": "UTF-8",
        "signMethod": "01",
        "signPubKeyCert": public_pem(sim.platform_public("unionpay")),
        "txnType": "01",
        "txnSubType": "01",
        "bizType": "000201",
        "accessType": "0",
        "merId": adapter.mer_id,
        "orderId": out_trade_no,
        "txnTime": adapter.txn_time(out_trade_no),
        "txnAmt": txn_amt,
        "currencyCode": "156",
        "queryId": stamp + secrets.token_hex(5),
        "respCode": "00",
        "respMsg": "成功[0000000]",
    }
    params["signature"] = unionpay_sign(sim.platform_key("unionpay"), params)
    return {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, urlencode(params).encode()


SIGNED = {"wechat": wechat, "alipay": alipay, "unionpay": unionpay}
#: The order's ¥460.00 less one fen, as each provider writes an amount.
ONE_FEN_SHORT = {"wechat": "45999", "alipay": "459.99", "unionpay": "45999"}


def post(app: Flask, provider: str, message: tuple[dict[str, str], bytes], address: str = "203.0.113.9"):  # type: ignore[no-untyped-def]
    """Deliver a notification to the app from ``address``; the app's answer."""
    headers, body = message
    return app.test_client().post(
        f"/pay/notify/{provider}", data=body, headers=headers, environ_base={"REMOTE_ADDR": address}
    )


def ledger(app: Flask, providers: Flask) -> dict[str, tuple[int, int, int]]:
    """Per order number: (money the provider took, settled by the app, refunded at the provider)."""
    store = providers.extensions["sim"].store
    rows: dict[str, tuple[int, int, int]] = {}
    for t in store.all("SELECT * FROM trade WHERE provider IN ('wechat', 'alipay', 'unionpay')"):
        taken = int(t["paid_fen"] if t["paid_fen"] is not None else t["amount_fen"]) if t["txn_id"] else 0
        refunded = store.one(
            "SELECT COALESCE(SUM(amount_fen), 0) AS s FROM refund WHERE provider=? AND out_trade_no=?",
            t["provider"],
            t["out_trade_no"],
        )["s"]
        rows[t["out_trade_no"]] = (taken, 0, int(refunded))
    with app.extensions["db_sessionmaker"]() as s:
        settled = dict(
            s.execute(
                select(PaymentOrder.out_trade_no, func.sum(SettledPayment.amount_fen))
                .join(SettledPayment, SettledPayment.order_id == PaymentOrder.id)
                .group_by(PaymentOrder.out_trade_no)
            ).all()
        )
    for no, fen in settled.items():
        taken, _, refunded = rows.get(no, (0, 0, 0))
        rows[no] = (taken, int(fen), refunded)
    return rows


def unbalanced(app: Flask, providers: Flask) -> dict[str, tuple[int, int, int]]:
    """The orders where the money taken is not the money settled plus the money refunded (empty: all good)."""
    return {no: t for no, t in ledger(app, providers).items() if t[0] != t[1] + t[2]}


def refunds(app: Flask) -> list[tuple[str, int, str]]:
    """(order number, amount, state) of every refund the app recorded."""
    with app.extensions["db_sessionmaker"]() as s:
        return [
            (no, fen, str(state))
            for no, fen, state in s.execute(
                select(PaymentOrder.out_trade_no, Refund.amount_fen, Refund.state)
                .join(PaymentOrder, PaymentOrder.id == Refund.order_id)
                .order_by(Refund.id)
            )
        ]


def at_now(app: Flask):  # type: ignore[no-untyped-def]
    """The app's clock, now."""
    return app.extensions["clock"].now()
