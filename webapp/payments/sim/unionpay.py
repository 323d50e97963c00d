"""UnionPay online gateway 5.1.0, simulated: front transaction → cashier, back notification with
respCode 00, query whose origRespCode tells the result, refund (txnType 04).

Signatures as 5.1.0 (signMethod 01): RSA-SHA256 over the SHA-256 hex digest of the sorted ``k=v&…``
string. A merchant request names its key by ``certId`` and must be signed by it; every answer and
notification carries UnionPay's signing key in ``signPubKeyCert``.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, redirect, request, url_for

from ..base import BEIJING, SignatureError
from ..crypto import key_serial, public_pem, unionpay_sign, unionpay_verify
from . import charge, down, expire_if_due, new_trade, refund_down, refund_processing, sim, taken_fen, tombstone

ORDER_ID = re.compile(r"^[0-9A-Za-z]{8,40}$")


def _stamp(fmt: str) -> str:
    return datetime.fromtimestamp(sim().now(), BEIJING).strftime(fmt)


def _sign(params: dict[str, str]) -> dict[str, str]:
    params = {
        "version": "5.1.0",
        "encoding": "UTF-8",
        "signMethod": "01",
        "signPubKeyCert": public_pem(sim().platform_public("unionpay")),
        **params,
    }
    params["signature"] = unionpay_sign(sim().platform_key("unionpay"), params)
    return params


def _form(params: dict[str, str]) -> Response:
    return Response(urlencode(_sign(params)), content_type="application/x-www-form-urlencoded; charset=utf-8")


def _verified() -> dict[str, str] | None:
    """The merchant's request, if signed 5.1.0-style by the key its certId names."""
    params = {k: v for k, v in request.values.items()}
    merchant = sim().merchant_public("unionpay")
    if params.get("certId") != str(key_serial(merchant)):
        return None
    try:
        unionpay_verify(merchant, params)
    except SignatureError:
        return None
    return params


def mark_paid(trade: Any) -> bool:
    """The card holder paid: record it and send the back notification. False if not payable."""
    trade = charge("unionpay", trade, _stamp("%m%d%H%M%S") + secrets.token_hex(5))
    if trade is None:
        return False
    extra = json.loads(trade["extra"])

    def build(bad: bool) -> tuple[dict[str, str], bytes]:
        params = _sign(
            {
                "txnType": "01",
                "txnSubType": "01",
                "bizType": "000201",
                "accessType": "0",
                "merId": extra.get("merId", ""),
                "orderId": trade["out_trade_no"],
                "txnTime": extra.get("txnTime", ""),
                "txnAmt": str(taken_fen(trade)),
                "currencyCode": "156",
                "queryId": trade["txn_id"],
                "respCode": "00",
                "respMsg": "成功[0000000]",
                "traceNo": trade["txn_id"][-6:],
                "traceTime": _stamp("%m%d%H%M%S"),
                "settleDate": _stamp("%m%d"),
            }
        )
        if bad:
            params["txnAmt"] = str(taken_fen(trade) + 1)
        return ({"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, urlencode(params).encode())

    sim().notifier.enqueue("unionpay", trade["out_trade_no"], trade["notify_url"], build)
    return True


def return_redirect(trade: Any, paid: bool) -> str:
    """Back to frontUrl (the front notification proves nothing)."""
    return trade["return_url"]


def _text(message: str) -> Response:
    return Response(message, status=400, content_type="text/plain; charset=utf-8")


def register(bp: Blueprint) -> None:
    """The gateway endpoints."""

    @bp.route("/gateway/api/frontTransReq.do", methods=["GET", "POST"])
    def front() -> Any:
        if down("unionpay"):
            return Response("Service Unavailable", status=503)
        params = _verified()
        if params is None:
            return _text("验签失败")
        order_id, amount = params.get("orderId", ""), params.get("txnAmt", "")
        if not ORDER_ID.match(order_id) or not (amount.isascii() and amount.isdigit()) or int(amount) <= 0:
            return _text("报文格式错误: orderId应为8-40位字母数字, txnAmt为分")
        trade = expire_if_due("unionpay", sim().store.trade("unionpay", order_id))
        if trade is None:
            try:
                expire = (
                    datetime.strptime(params["payTimeout"], "%Y%m%d%H%M%S").replace(tzinfo=BEIJING).timestamp()
                    if params.get("payTimeout")
                    else None
                )
            except ValueError:
                return _text("报文格式错误: payTimeout")
            if expire is not None and sim().now() > expire:
                return _text("交易已超时")
            new_trade(
                "unionpay",
                order_id,
                int(amount),
                params.get("backUrl", ""),
                params.get("frontUrl", ""),
                "",
                expire,
                merId=params.get("merId"),
                txnTime=params.get("txnTime"),
            )
            trade = sim().store.trade("unionpay", order_id)
        elif trade["state"] == "CLOSED":
            return _text("订单已关闭")
        return redirect(url_for(f"{bp.name}.cashier", token=trade["token"]))

    @bp.post("/gateway/api/queryTrans.do")
    def query() -> Response:
        if down("unionpay"):
            return Response("Service Unavailable", status=503)
        params = _verified()
        if params is None:
            return _form({"respCode": "11", "respMsg": "验证签名失败"})
        refund = sim().store.refund("unionpay", params.get("orderId", ""))
        if refund is not None:  # a 退货 is a transaction of its own
            if refund_down("unionpay"):
                return Response("Service Unavailable", status=503)
            done = not refund_processing("unionpay")
            return _form(
                {
                    "respCode": "00",
                    "origRespCode": "00" if done else "05",
                    "origRespMsg": "成功" if done else "交易处理中",
                    "orderId": refund["out_refund_no"],
                    "txnAmt": str(refund["amount_fen"]),
                    "queryId": refund["refund_id"],
                }
            )
        trade = expire_if_due("unionpay", sim().store.trade("unionpay", params.get("orderId", "")))
        paying = sim().controls("unionpay").get("query") == "paying"
        if trade is not None and trade["state"] == "NOTPAY" and paying:
            return _form(
                {"respCode": "00", "origRespCode": "05", "origRespMsg": "交易处理中", "orderId": trade["out_trade_no"]}
            )
        if trade is None or trade["state"] != "PAID":
            return _form({"respCode": "34", "respMsg": "查无此交易"})
        return _form(
            {
                "respCode": "00",
                "origRespCode": "00",
                "origRespMsg": "成功",
                "orderId": trade["out_trade_no"],
                "txnAmt": str(taken_fen(trade)),
                "queryId": trade["txn_id"],
                "traceTime": datetime.fromtimestamp(trade["paid_at"], BEIJING).strftime("%m%d%H%M%S"),
            }
        )

    @bp.post("/gateway/api/closeOrder.do")
    def close() -> Response:
        """The simulation's stand-in for an order's payTimeout: no payment after this."""
        if down("unionpay"):
            return Response("Service Unavailable", status=503)
        params = _verified()
        if params is None:
            return _form({"respCode": "11", "respMsg": "验证签名失败"})
        order_id = params.get("orderId", "")
        if sim().store.trade("unionpay", order_id) is None:
            tombstone("unionpay", order_id)
        sim().store.set_state("unionpay", order_id, "CLOSED", only_from=("NOTPAY", "UNSEEN"))
        trade = sim().store.trade("unionpay", order_id)
        assert trade is not None  # made above (a tombstone when it did not exist)
        if trade["state"] == "PAID":
            return _form(
                {
                    "respCode": "00",
                    "origRespCode": "00",
                    "orderId": order_id,
                    "txnAmt": str(taken_fen(trade)),
                    "queryId": trade["txn_id"],
                }
            )
        return _form({"respCode": "00", "origRespCode": "34", "orderId": order_id})

    @bp.post("/gateway/api/backTransReq.do")
    def back() -> Response:
        """退货 (txnType 04): accepted with respCode 00; its result is asked with queryTrans on its own orderId."""
        if refund_down("unionpay"):
            return Response("Service Unavailable", status=503)
        params = _verified()
        if params is None or params.get("txnType") != "04":
            return _form({"respCode": "11", "respMsg": "验证签名失败或交易类型不支持"})
        refund_no, amount = params.get("orderId", ""), params.get("txnAmt", "")
        row = sim().store.refund("unionpay", refund_no)
        if row is not None:
            if str(row["amount_fen"]) != amount:
                return _form({"respCode": "12", "respMsg": "重复交易"})
            return _form({"respCode": "00", "respMsg": "成功", "orderId": refund_no, "queryId": row["refund_id"]})
        trade = sim().store.one(
            "SELECT * FROM trade WHERE provider='unionpay' AND txn_id=?", params.get("origQryId", "")
        )
        if not ORDER_ID.match(refund_no) or not (amount.isascii() and amount.isdigit()):
            return _form({"respCode": "30", "respMsg": "报文格式错误"})
        if trade is None or trade["state"] != "PAID":
            return _form({"respCode": "35", "respMsg": "原交易不存在或状态不正确"})
        if not 0 < int(amount) <= taken_fen(trade) - sim().store.refunded_fen("unionpay", trade["out_trade_no"]):
            return _form({"respCode": "37", "respMsg": "退货金额超限"})
        row = sim().store.add_refund(
            "unionpay",
            refund_no,
            trade["out_trade_no"],
            int(amount),
            _stamp("%m%d%H%M%S") + secrets.token_hex(5),
            sim().now(),
        )
        return _form({"respCode": "00", "respMsg": "成功", "orderId": refund_no, "queryId": row["refund_id"]})
