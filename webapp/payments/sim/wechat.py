"""WeChat Pay v3, simulated: JSAPI order, query, close, refund, and AES-GCM-encrypted notifications
signed over ``timestamp\\nnonce\\nbody\\n``; requests must carry the merchant's WECHATPAY2-SHA256-RSA2048
Authorization.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, request, url_for

from ..base import BEIJING, SignatureError
from ..crypto import aes_gcm_encrypt, nonce, rsa_sign, rsa_verify
from . import new_trade, sim

OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_*-]{6,32}$")
SERIAL = "5157F09EFDC096DE15EBE81A47057A72"


def _signed(payload: Any, status: int = 200) -> Response:
    body = "" if payload is None else json.dumps(payload, ensure_ascii=False)
    ts, nc = str(int(time.time())), nonce()
    sig = rsa_sign(sim().platform_key("wechat"), f"{ts}\n{nc}\n{body}\n")
    return Response(body, status=status, content_type="application/json", headers={
        "Wechatpay-Timestamp": ts, "Wechatpay-Nonce": nc, "Wechatpay-Signature": sig, "Wechatpay-Serial": SERIAL})


def _error(status: int, code: str, message: str) -> Response:
    return _signed({"code": code, "message": message}, status)


def _check_auth() -> Response | None:
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("WECHATPAY2-SHA256-RSA2048 "):
        return _error(401, "SIGN_ERROR", "缺少签名")
    fields = dict(re.findall(r'(\w+)="([^"]*)"', auth))
    path = request.full_path if request.query_string else request.path
    message = f"{request.method}\n{path}\n{fields.get('timestamp')}\n{fields.get('nonce_str')}\n" \
              f"{request.get_data(as_text=True)}\n"
    try:
        rsa_verify(sim().merchant_public("wechat"), message, fields.get("signature", ""))
    except SignatureError:
        return _error(401, "SIGN_ERROR", "签名错误")
    return None


def _transaction(trade: Any) -> dict[str, Any]:
    state = {"NOTPAY": "NOTPAY", "UNSEEN": "NOTPAY", "PAID": "SUCCESS", "CLOSED": "CLOSED",
             "REFUNDED": "REFUND"}[trade["state"]]
    if state == "NOTPAY" and sim().store.controls("wechat").get("query") == "paying":
        state = "USERPAYING"
    doc: dict[str, Any] = {"appid": json.loads(trade["extra"]).get("appid"), "mchid": json.loads(trade["extra"]).get(
        "mchid"), "out_trade_no": trade["out_trade_no"], "trade_state": state, "trade_type": "JSAPI",
        "amount": {"total": trade["amount_fen"], "payer_total": trade["amount_fen"], "currency": "CNY"}}
    if trade["txn_id"]:
        doc["transaction_id"] = trade["txn_id"]
        doc["success_time"] = datetime.fromtimestamp(trade["paid_at"], BEIJING).isoformat(
            timespec="seconds")
    return doc


def mark_paid(trade: Any) -> None:
    """The buyer paid: record it and notify the merchant."""
    txn = "4200" + datetime.now(BEIJING).strftime("%Y%m%d") + secrets.token_hex(7)[:14]
    if not sim().store.set_state("wechat", trade["out_trade_no"], "PAID", only_from=("NOTPAY",), txn_id=txn,
                                 paid_at=sim().now()):
        return
    trade = sim().store.trade("wechat", trade["out_trade_no"])
    plain = json.dumps({**_transaction(trade), "trade_state": "SUCCESS", "trade_state_desc": "支付成功"},
                       ensure_ascii=False).encode()

    def build(mode: str) -> tuple[dict[str, str], bytes]:
        nc = secrets.token_hex(6)
        body = json.dumps({
            "id": secrets.token_hex(18), "create_time": datetime.now(UTC).isoformat(timespec="seconds"),
            "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
            "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                         "ciphertext": aes_gcm_encrypt(sim().apiv3_key(), nc, "transaction", plain),
                         "associated_data": "transaction", "nonce": nc}}, ensure_ascii=False)
        ts, hn = str(int(time.time())), nonce()
        signed = f"{ts}\n{hn}\n{body}\n" if mode == "ok" else f"{ts}\n{hn}\n{body}tampered\n"
        sig = rsa_sign(sim().platform_key("wechat"), signed)
        if mode == "probe":  # WeChat's deliberate bad-signature probe
            sig = "WECHATPAY/SIGNTEST/" + sig[19:]
        return ({"Content-Type": "application/json", "Wechatpay-Timestamp": ts, "Wechatpay-Nonce": hn,
                 "Wechatpay-Signature": sig, "Wechatpay-Serial": SERIAL}, body.encode())

    sim().notifier.enqueue("wechat", trade["out_trade_no"], trade["notify_url"],
                           lambda bad: build("bad" if bad else "ok"), lambda _bad: build("probe"))


def return_redirect(trade: Any, paid: bool) -> str:
    """H5 pay sends the buyer back to redirect_url; it proves nothing."""
    return trade["return_url"]


def register(bp: Blueprint) -> None:
    """The v3 API endpoints."""

    @bp.post("/v3/pay/transactions/jsapi")
    def create() -> Response:
        if (err := _check_auth()) is not None:
            return err
        doc = request.get_json(silent=True) or {}
        no = str(doc.get("out_trade_no", ""))
        total = (doc.get("amount") or {}).get("total")
        if not OUT_TRADE_NO.match(no):
            return _error(400, "PARAM_ERROR", "out_trade_no应为6-32位数字、大小写字母、_-*")
        if not isinstance(total, int) or total <= 0:
            return _error(400, "PARAM_ERROR", "amount.total应为正整数（分）")
        existing = sim().store.trade("wechat", no)
        if existing is not None:
            if existing["amount_fen"] != total:
                return _error(400, "INVALID_REQUEST", "201 商户订单号重复")
            return _signed({"prepay_id": existing["token"]})
        expire = datetime.fromisoformat(doc["time_expire"]).timestamp() if doc.get("time_expire") else None
        token = new_trade("wechat", no, total, str(doc.get("notify_url", "")), str(doc.get("redirect_url", "")),
                          str(doc.get("description", "")), expire, appid=doc.get("appid"), mchid=doc.get("mchid"))
        sim().store.run("UPDATE trade SET token=? WHERE provider='wechat' AND out_trade_no=?", "wx" + token, no)
        return _signed({"prepay_id": "wx" + token})

    @bp.get("/v3/pay/transactions/out-trade-no/<no>")
    def query(no: str) -> Response:
        if (err := _check_auth()) is not None:
            return err
        trade = sim().store.trade("wechat", no)
        if trade is None:
            return _error(404, "ORDER_NOT_EXIST", "订单不存在")
        return _signed(_transaction(trade))

    @bp.post("/v3/pay/transactions/out-trade-no/<no>/close")
    def close(no: str) -> Response:
        if (err := _check_auth()) is not None:
            return err
        trade = sim().store.trade("wechat", no)
        if trade is None:
            return _error(404, "ORDER_NOT_EXIST", "订单不存在")
        if trade["state"] == "PAID":
            return _error(400, "ORDERPAID", "订单已支付")
        sim().store.set_state("wechat", no, "CLOSED", only_from=("NOTPAY", "UNSEEN"))
        return Response(status=204, headers=_signed(None).headers)

    @bp.post("/v3/refund/domestic/refunds")
    def refund() -> Response:
        if (err := _check_auth()) is not None:
            return err
        doc = request.get_json(silent=True) or {}
        out_refund_no, no = str(doc.get("out_refund_no", "")), str(doc.get("out_trade_no", ""))
        row = sim().store.one("SELECT * FROM refund WHERE provider='wechat' AND out_refund_no=?", out_refund_no)
        if row is None:
            trade = sim().store.trade("wechat", no)
            if trade is None or trade["state"] != "PAID":
                return _error(400, "INVALID_REQUEST", "订单未支付，不能退款")
            amount = int((doc.get("amount") or {}).get("refund", 0))
            if amount <= 0 or amount > trade["amount_fen"]:
                return _error(400, "PARAM_ERROR", "退款金额有误")
            sim().store.run("INSERT INTO refund VALUES ('wechat', ?, ?, ?, ?)", out_refund_no, no, amount,
                            "5030" + secrets.token_hex(8))
            row = sim().store.one("SELECT * FROM refund WHERE provider='wechat' AND out_refund_no=?", out_refund_no)
        return _signed({"refund_id": row["refund_id"], "out_refund_no": out_refund_no, "status": "SUCCESS",
                        "amount": {"refund": row["amount_fen"]}})

    @bp.get("/pay/<prepay_id>")
    def h5(prepay_id: str) -> Any:
        from flask import redirect

        return redirect(url_for(f"{bp.name}.cashier", token=prepay_id))
