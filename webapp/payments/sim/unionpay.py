"""UnionPay online gateway (5.1.0 style), simulated: front transaction → cashier, back
notification with respCode 00, query whose origRespCode tells the result, refund (txnType 04).
Signatures are RSA-SHA256 over the sorted ``k=v&…`` string (signMethod 01).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, redirect, request, url_for

from ..base import BEIJING, SignatureError
from ..crypto import rsa_sign, rsa_verify, sign_string
from . import new_trade, sim

ORDER_ID = re.compile(r"^[0-9A-Za-z]{8,40}$")


def _sign(params: dict[str, str]) -> dict[str, str]:
    params = {"version": "5.1.0", "encoding": "UTF-8", "signMethod": "01", **params}
    params["signature"] = rsa_sign(sim().platform_key("unionpay"), sign_string(params, ("signature",)))
    return params


def _form(params: dict[str, str]) -> Response:
    return Response(urlencode(_sign(params)), content_type="application/x-www-form-urlencoded; charset=utf-8")


def _verified() -> dict[str, str] | None:
    params = {k: v for k, v in request.values.items()}
    try:
        rsa_verify(sim().merchant_public("unionpay"), sign_string(params, ("signature",)), params.get("signature", ""))
    except SignatureError:
        return None
    return params


def mark_paid(trade: Any) -> None:
    """The card holder paid: record it and send the back notification."""
    query_id = datetime.now(BEIJING).strftime("%m%d%H%M%S") + secrets.token_hex(5)
    if not sim().store.set_state("unionpay", trade["out_trade_no"], "PAID", only_from=("NOTPAY",), txn_id=query_id,
                                 paid_at=sim().now()):
        return
    trade = sim().store.trade("unionpay", trade["out_trade_no"])
    import json

    extra = json.loads(trade["extra"])

    def build(bad: bool) -> tuple[dict[str, str], bytes]:
        params = _sign({"txnType": "01", "txnSubType": "01", "bizType": "000201", "merId": extra.get("merId", ""),
                        "orderId": trade["out_trade_no"], "txnTime": extra.get("txnTime", ""),
                        "txnAmt": str(trade["amount_fen"]), "currencyCode": "156", "queryId": query_id,
                        "respCode": "00", "respMsg": "成功[0000000]",
                        "traceTime": datetime.now(BEIJING).strftime("%m%d%H%M%S")})
        if bad:
            params["txnAmt"] = str(trade["amount_fen"] + 1)
        return ({"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, urlencode(params).encode())

    sim().notifier.enqueue("unionpay", trade["out_trade_no"], trade["notify_url"], build)


def return_redirect(trade: Any, paid: bool) -> str:
    """Back to frontUrl (the front notification proves nothing)."""
    return trade["return_url"]


def register(bp: Blueprint) -> None:
    """The gateway endpoints."""

    @bp.route("/gateway/api/frontTransReq.do", methods=["GET", "POST"])
    def front() -> Any:
        params = _verified()
        if params is None:
            return Response("验签失败", status=400, content_type="text/plain; charset=utf-8")
        order_id, amount = params.get("orderId", ""), params.get("txnAmt", "")
        if not ORDER_ID.match(order_id) or not amount.isdigit() or int(amount) <= 0:
            return Response("报文格式错误: orderId应为8-40位字母数字, txnAmt为分", status=400,
                            content_type="text/plain; charset=utf-8")
        trade = sim().store.trade("unionpay", order_id)
        if trade is None:
            expire = datetime.strptime(params["payTimeout"], "%Y%m%d%H%M%S").replace(tzinfo=BEIJING).timestamp() \
                if params.get("payTimeout") else None
            new_trade("unionpay", order_id, int(amount), params.get("backUrl", ""), params.get("frontUrl", ""),
                      "", expire, merId=params.get("merId"), txnTime=params.get("txnTime"))
            trade = sim().store.trade("unionpay", order_id)
        elif trade["state"] == "CLOSED":
            return Response("订单已关闭", status=400, content_type="text/plain; charset=utf-8")
        return redirect(url_for(f"{bp.name}.cashier", token=trade["token"]))

    @bp.post("/gateway/api/queryTrans.do")
    def query() -> Response:
        params = _verified()
        if params is None:
            return _form({"respCode": "11", "respMsg": "验证签名失败"})
        trade = sim().store.trade("unionpay", params.get("orderId", ""))
        paying = sim().store.controls("unionpay").get("query") == "paying"
        if trade is not None and trade["state"] == "NOTPAY" and paying:
            return _form({"respCode": "00", "origRespCode": "05", "origRespMsg": "交易处理中",
                          "orderId": trade["out_trade_no"]})
        if trade is None or trade["state"] != "PAID":
            return _form({"respCode": "34", "respMsg": "查无此交易"})
        return _form({"respCode": "00", "origRespCode": "00", "origRespMsg": "成功", "orderId": trade["out_trade_no"],
                      "txnAmt": str(trade["amount_fen"]), "queryId": trade["txn_id"],
                      "traceTime": datetime.fromtimestamp(trade["paid_at"], BEIJING).strftime("%m%d%H%M%S")})

    @bp.post("/gateway/api/closeOrder.do")
    def close() -> Response:
        """The simulation's stand-in for an order's payTimeout: no payment after this."""
        params = _verified()
        if params is None:
            return _form({"respCode": "11", "respMsg": "验证签名失败"})
        order_id = params.get("orderId", "")
        trade = sim().store.trade("unionpay", order_id)
        if trade is None:
            new_trade("unionpay", order_id, 0, "", "", "", None, state="CLOSED")
            return _form({"respCode": "00", "origRespCode": "34", "orderId": order_id})
        if trade["state"] == "PAID":
            return _form({"respCode": "00", "origRespCode": "00", "orderId": order_id,
                          "txnAmt": str(trade["amount_fen"]), "queryId": trade["txn_id"]})
        sim().store.set_state("unionpay", order_id, "CLOSED", only_from=("NOTPAY", "UNSEEN"))
        return _form({"respCode": "00", "origRespCode": "34", "orderId": order_id})

    @bp.post("/gateway/api/backTransReq.do")
    def back() -> Response:
        params = _verified()
        if params is None or params.get("txnType") != "04":
            return _form({"respCode": "11", "respMsg": "验证签名失败或交易类型不支持"})
        refund_no = params.get("orderId", "")
        row = sim().store.one("SELECT * FROM refund WHERE provider='unionpay' AND out_refund_no=?", refund_no)
        if row is None:
            trade = sim().store.one("SELECT * FROM trade WHERE provider='unionpay' AND txn_id=?",
                                    params.get("origQryId", ""))
            if trade is None or trade["state"] != "PAID":
                return _form({"respCode": "12", "respMsg": "原交易不存在或状态不正确"})
            sim().store.run("INSERT INTO refund VALUES ('unionpay', ?, ?, ?, ?)", refund_no, trade["out_trade_no"],
                            int(params.get("txnAmt", "0")), secrets.token_hex(10))
            row = sim().store.one("SELECT * FROM refund WHERE provider='unionpay' AND out_refund_no=?", refund_no)
        return _form({"respCode": "00", "respMsg": "成功", "orderId": refund_no, "queryId": row["refund_id"]})
