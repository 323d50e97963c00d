"""WeChat Pay v3, simulated: JSAPI order, query, close, refund, and AES-GCM-encrypted notifications.

Requests must carry the merchant's WECHATPAY2-SHA256-RSA2048 Authorization; every answer and
notification is signed over ``timestamp\\nnonce\\nbody\\n`` with the platform key, named in
``Wechatpay-Serial`` by its public-key id (``PUB_KEY_ID_…``). Like the real one: an order number that
was closed can never be created or paid again (ORDERCLOSED), even if the close came first.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, redirect, request, url_for

from ..base import BEIJING, SignatureError
from ..crypto import aes_gcm_encrypt, nonce, rsa_sign, rsa_verify, wechat_public_key_id
from . import charge, down, expire_if_due, new_trade, refund_down, refund_processing, sim, taken_fen, tombstone

OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_*-]{6,32}$")
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"


def _headers(body: str, *, age: int = 0, serial: str | None = None) -> dict[str, str]:
    ts, nc = str(int(sim().now()) - age), nonce()
    sig = rsa_sign(sim().platform_key("wechat"), f"{ts}\n{nc}\n{body}\n")
    return {
        "Wechatpay-Timestamp": ts,
        "Wechatpay-Nonce": nc,
        "Wechatpay-Signature": sig,
        "Wechatpay-Serial": serial or wechat_public_key_id(sim().platform_public("wechat")),
        "Wechatpay-Signature-Type": SIGNATURE_TYPE,
    }


def _signed(payload: Any, status: int = 200) -> Response:
    body = "" if payload is None else json.dumps(payload, ensure_ascii=False)
    return Response(body, status=status, content_type="application/json", headers=_headers(body))


def _error(status: int, code: str, message: str) -> Response:
    return _signed({"code": code, "message": message}, status)


def _check_auth() -> Response | None:
    if down("wechat"):
        return Response("Service Unavailable", status=503)
    auth = request.headers.get("Authorization", "")
    if not auth.startswith(f"{SIGNATURE_TYPE} "):
        return _error(401, "SIGN_ERROR", "缺少签名")
    fields = dict(re.findall(r'(\w+)="([^"]*)"', auth))
    path = request.full_path if request.query_string else request.path
    message = (
        f"{request.method}\n{path}\n{fields.get('timestamp')}\n{fields.get('nonce_str')}\n"
        f"{request.get_data(as_text=True)}\n"
    )
    try:
        rsa_verify(sim().merchant_public("wechat"), message, fields.get("signature", ""))
    except SignatureError:
        return _error(401, "SIGN_ERROR", "签名错误")
    return None


def _transaction(trade: Any) -> dict[str, Any]:
    state = {"NOTPAY": "NOTPAY", "UNSEEN": "NOTPAY", "PAID": "SUCCESS", "CLOSED": "CLOSED", "REFUNDED": "REFUND"}[
        trade["state"]
    ]
    if state == "NOTPAY" and sim().controls("wechat").get("query") == "paying":
        state = "USERPAYING"
    extra = json.loads(trade["extra"])
    doc: dict[str, Any] = {
        "appid": extra.get("appid"),
        "mchid": extra.get("mchid"),
        "out_trade_no": trade["out_trade_no"],
        "trade_state": state,
        "trade_type": "JSAPI",
        "amount": {"total": trade["amount_fen"], "payer_total": trade["amount_fen"], "currency": "CNY"},
    }
    if trade["txn_id"]:
        taken = taken_fen(trade)
        doc["amount"] = {"total": taken, "payer_total": taken, "currency": "CNY"}
        doc["transaction_id"] = trade["txn_id"]
        doc["success_time"] = datetime.fromtimestamp(trade["paid_at"], BEIJING).isoformat(timespec="seconds")
    return doc


def _refund_doc(row: Any) -> dict[str, Any]:
    """A refund as WeChat describes it: SUCCESS once done, PROCESSING while the ``refund`` control holds it."""
    trade = sim().store.trade("wechat", row["out_trade_no"])
    processing = refund_processing("wechat")
    return {
        "refund_id": row["refund_id"],
        "out_refund_no": row["out_refund_no"],
        "out_trade_no": row["out_trade_no"],
        "transaction_id": trade["txn_id"] if trade else "",
        "channel": "ORIGINAL",
        "status": "PROCESSING" if processing else "SUCCESS",
        "success_time": None
        if processing
        else datetime.fromtimestamp(row["created"] or sim().now(), BEIJING).isoformat(timespec="seconds"),
        "amount": {"refund": row["amount_fen"], "total": taken_fen(trade) if trade else 0, "currency": "CNY"},
    }


def mark_paid(trade: Any) -> bool:
    """The buyer paid: record it and notify the merchant. False if the trade was not payable."""
    txn = "4200" + datetime.fromtimestamp(sim().now(), BEIJING).strftime("%Y%m%d") + secrets.token_hex(7)[:14]
    trade = charge("wechat", trade, txn)
    if trade is None:
        return False
    plain = json.dumps(
        {**_transaction(trade), "trade_state": "SUCCESS", "trade_state_desc": "支付成功"}, ensure_ascii=False
    ).encode()
    ctl = sim().controls("wechat")

    def build(mode: str) -> tuple[dict[str, str], bytes]:
        nc = secrets.token_hex(6)
        body = json.dumps(
            {
                "id": secrets.token_hex(18),
                "create_time": datetime.fromtimestamp(sim().now(), BEIJING).isoformat(timespec="seconds"),
                "resource_type": "encrypt-resource",
                "event_type": "TRANSACTION.SUCCESS",
                "summary": "支付成功",
                "resource": {
                    "original_type": "transaction",
                    "algorithm": "AEAD_AES_256_GCM",
                    "ciphertext": aes_gcm_encrypt(sim().apiv3_key(), nc, "transaction", plain),
                    "associated_data": "transaction",
                    "nonce": nc,
                },
            },
            ensure_ascii=False,
        )
        headers = {
            "Content-Type": "application/json",
            **_headers(body, age=int(ctl.get("stale_seconds", 0)), serial=ctl.get("serial")),
        }
        if mode == "bad":  # tampered after signing
            headers["Wechatpay-Signature"] = rsa_sign(sim().platform_key("wechat"), "tampered")
        if mode == "probe":  # WeChat's deliberate bad-signature probe
            headers["Wechatpay-Signature"] = "WECHATPAY/SIGNTEST/" + headers["Wechatpay-Signature"][19:]
        return headers, body.encode()

    sim().notifier.enqueue(
        "wechat",
        trade["out_trade_no"],
        trade["notify_url"],
        lambda bad: build("bad" if bad else "ok"),
        lambda _bad: build("probe"),
    )
    return True


def return_redirect(trade: Any, paid: bool) -> str:
    """H5 pay sends the buyer back to redirect_url; it proves nothing."""
    return trade["return_url"]


def register(bp: Blueprint) -> None:
    """The v3 API endpoints."""

    @bp.post("/v3/pay/transactions/jsapi")
    def create() -> Response:
        if (err := _check_auth()) is not None:
            return err
        if delay := float(sim().controls("wechat").get("create_delay", 0)):
            time.sleep(delay)
        doc = request.get_json(silent=True) or {}
        no = str(doc.get("out_trade_no", ""))
        total = (doc.get("amount") or {}).get("total")
        if not OUT_TRADE_NO.match(no):
            return _error(400, "PARAM_ERROR", "out_trade_no应为6-32位数字、大小写字母、_-*")
        if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
            return _error(400, "PARAM_ERROR", "amount.total应为正整数（分）")
        existing = expire_if_due("wechat", sim().store.trade("wechat", no))
        if existing is not None:
            if existing["state"] == "CLOSED":
                return _error(400, "ORDERCLOSED", "当前订单已关闭，请重新下单")
            if existing["state"] == "PAID":
                return _error(400, "ORDERPAID", "该订单已支付")
            if existing["amount_fen"] != total:
                return _error(400, "INVALID_REQUEST", "201 商户订单号重复")
            return _signed({"prepay_id": existing["token"]})  # the same order created again: same prepay_id
        try:
            expire = datetime.fromisoformat(doc["time_expire"]).timestamp() if doc.get("time_expire") else None
        except (TypeError, ValueError):
            return _error(400, "PARAM_ERROR", "time_expire格式错误")
        token = new_trade(
            "wechat",
            no,
            total,
            str(doc.get("notify_url", "")),
            str(doc.get("redirect_url", "")),
            str(doc.get("description", "")),
            expire,
            appid=doc.get("appid"),
            mchid=doc.get("mchid"),
        )
        sim().store.run("UPDATE trade SET token=? WHERE provider='wechat' AND out_trade_no=?", "wx" + token, no)
        return _signed({"prepay_id": "wx" + token})

    @bp.get("/v3/pay/transactions/out-trade-no/<no>")
    def query(no: str) -> Response:
        if (err := _check_auth()) is not None:
            return err
        trade = expire_if_due("wechat", sim().store.trade("wechat", no))
        if trade is None or trade["state"] == "CLOSED" and not trade["amount_fen"]:
            return _error(404, "ORDER_NOT_EXIST", "订单不存在")
        return _signed(_transaction(trade))

    @bp.post("/v3/pay/transactions/out-trade-no/<no>/close")
    def close(no: str) -> Response:
        if (err := _check_auth()) is not None:
            return err
        trade = sim().store.trade("wechat", no)
        if trade is None:
            tombstone("wechat", no)  # a create still on its way will find the number closed
            trade = sim().store.trade("wechat", no)
        assert trade is not None  # the tombstone is a trade row
        if trade["state"] == "PAID":
            return _error(400, "ORDERPAID", "订单已支付")
        sim().store.set_state("wechat", no, "CLOSED", only_from=("NOTPAY", "UNSEEN"))
        closed = sim().store.trade("wechat", no)
        if closed is not None and closed["state"] == "PAID":  # paid in the same instant
            return _error(400, "ORDERPAID", "订单已支付")
        return Response(status=204, headers=_headers(""))

    @bp.post("/v3/refund/domestic/refunds")
    def refund() -> Response:
        """申请退款: keyed by out_refund_no; answered PROCESSING, as the real one mostly does; finished when
        asked (查询单笔退款), unless the ``refund`` control holds it."""
        if (err := _check_auth()) is not None:
            return err
        if refund_down("wechat"):
            return Response("Service Unavailable", status=503)
        doc = request.get_json(silent=True) or {}
        out_refund_no, no = str(doc.get("out_refund_no", "")), str(doc.get("out_trade_no", ""))
        amount = doc["amount"] if isinstance(doc.get("amount"), dict) else {}
        refund_fen, total = amount.get("refund"), amount.get("total")
        row = sim().store.refund("wechat", out_refund_no)
        if row is not None:
            if row["amount_fen"] != refund_fen:
                return _error(400, "INVALID_REQUEST", "请求内容和上次请求不一致，请核实后再试")
            return _signed(_refund_doc(row))
        trade = sim().store.trade("wechat", no)
        if trade is None or trade["state"] != "PAID":
            return _error(400, "INVALID_REQUEST", "订单未支付，不能退款")
        if type(refund_fen) is not int or type(total) is not int or refund_fen <= 0:
            return _error(400, "PARAM_ERROR", "amount.refund和amount.total应为正整数（分）")
        if total != taken_fen(trade):
            return _error(400, "INVALID_REQUEST", "订单金额或退款金额与之前请求不一致，请核实后再试")
        if refund_fen > taken_fen(trade) - sim().store.refunded_fen("wechat", no):
            return _error(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
        row = sim().store.add_refund(
            "wechat", out_refund_no, no, refund_fen, "5030" + secrets.token_hex(8), sim().now()
        )
        return _signed({**_refund_doc(row), "status": "PROCESSING", "success_time": None})

    @bp.get("/v3/refund/domestic/refunds/<out_refund_no>")
    def refund_query(out_refund_no: str) -> Response:
        """查询单笔退款."""
        if (err := _check_auth()) is not None:
            return err
        if refund_down("wechat"):
            return Response("Service Unavailable", status=503)
        row = sim().store.refund("wechat", out_refund_no)
        if row is None:
            return _error(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        return _signed(_refund_doc(row))

    @bp.get("/pay/<prepay_id>")
    def h5(prepay_id: str) -> Any:
        return redirect(url_for(f"{bp.name}.cashier", token=prepay_id))
