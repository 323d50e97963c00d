"""Alipay, simulated: wap pay through gateway.do, query, close, refund; RSA2 over the sorted
``k=v&…`` string. No trade exists until the buyer opens the cashier, so a query before that
says ACQ.TRADE_NOT_EXIST. The notify_url gets a signed form and wants exactly ``success``.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, redirect, request, url_for

from ..base import BEIJING, SignatureError
from ..crypto import rsa_sign, rsa_verify, sign_string
from . import new_trade, sim

BJ_FMT = "%Y-%m-%d %H:%M:%S"
STATUS = {"NOTPAY": "WAIT_BUYER_PAY", "PAID": "TRADE_SUCCESS", "CLOSED": "TRADE_CLOSED", "REFUNDED": "TRADE_CLOSED"}


def _yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


def _fen(yuan: str) -> int:
    return int(Decimal(yuan) * 100)


def _response(method: str, payload: dict[str, Any]) -> Response:
    inner = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    sig = rsa_sign(sim().platform_key("alipay"), inner)
    key = method.replace(".", "_") + "_response"
    return Response(f'{{"{key}":{inner},"sign":"{sig}"}}', content_type="application/json; charset=utf-8")


def _signed_params(params: dict[str, str]) -> dict[str, str]:
    params = {**params, "sign_type": "RSA2"}
    params["sign"] = rsa_sign(sim().platform_key("alipay"), sign_string(params, ("sign", "sign_type")))
    return params


def mark_paid(trade: Any) -> None:
    """The buyer paid: record it and notify the merchant with a signed form."""
    txn = datetime.now(BEIJING).strftime("%Y%m%d") + "2200" + secrets.token_hex(7)[:14]
    if not sim().store.set_state("alipay", trade["out_trade_no"], "PAID", only_from=("NOTPAY",), txn_id=txn,
                                 paid_at=sim().now()):
        return
    trade = sim().store.trade("alipay", trade["out_trade_no"])
    extra = json.loads(trade["extra"])

    def build(bad: bool) -> tuple[dict[str, str], bytes]:
        params = _signed_params({
            "notify_time": datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S"), "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(16), "app_id": extra.get("app_id", ""), "charset": "utf-8",
            "version": "1.0", "trade_no": trade["txn_id"], "out_trade_no": trade["out_trade_no"],
            "total_amount": _yuan(trade["amount_fen"]), "receipt_amount": _yuan(trade["amount_fen"]),
            "trade_status": "TRADE_SUCCESS", "subject": trade["description"] or "",
            "gmt_payment": datetime.fromtimestamp(trade["paid_at"], BEIJING).strftime("%Y-%m-%d %H:%M:%S")})
        if bad:
            params["total_amount"] = _yuan(trade["amount_fen"] + 1)  # tampered after signing
        return ({"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, urlencode(params).encode())

    sim().notifier.enqueue("alipay", trade["out_trade_no"], trade["notify_url"], build)


def return_redirect(trade: Any, paid: bool) -> str:
    """Back to return_url with signed params that prove nothing (the merchant must query)."""
    if not paid:
        return trade["return_url"]
    params = _signed_params({"method": "alipay.trade.wap.pay.return", "out_trade_no": trade["out_trade_no"],
                             "trade_no": trade["txn_id"] or "", "total_amount": _yuan(trade["amount_fen"]),
                             "timestamp": datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S")})
    sep = "&" if "?" in trade["return_url"] else "?"
    return trade["return_url"] + sep + urlencode(params)


def register(bp: Blueprint) -> None:
    """The gateway."""

    @bp.route("/gateway.do", methods=["GET", "POST"])
    def gateway() -> Any:
        params = {k: v for k, v in request.values.items()}
        try:
            rsa_verify(sim().merchant_public("alipay"), sign_string(params, ("sign",)), params.get("sign", ""))
        except SignatureError:
            return _response(params.get("method", "alipay.error"), {"code": "40002", "msg": "Invalid Arguments",
                                                                    "sub_code": "isv.invalid-signature"})
        method = params.get("method", "")
        biz = json.loads(params.get("biz_content") or "{}")
        no = str(biz.get("out_trade_no", ""))
        trade = sim().store.trade("alipay", no) if no else None
        if method == "alipay.trade.wap.pay":
            if trade is None:
                expire = None
                if biz.get("time_expire"):
                    expire = datetime.strptime(biz["time_expire"], BJ_FMT).replace(tzinfo=BEIJING).timestamp()
                new_trade("alipay", no, _fen(str(biz.get("total_amount", "0"))), params.get("notify_url", ""),
                          params.get("return_url", ""), str(biz.get("subject", "")), expire, state="UNSEEN",
                          app_id=params.get("app_id"))
                trade = sim().store.trade("alipay", no)
            elif trade["state"] == "CLOSED":
                return Response("交易已关闭，请返回商户重新下单", status=400, content_type="text/plain; charset=utf-8")
            return redirect(url_for(f"{bp.name}.cashier", token=trade["token"]))
        visible = trade is not None and trade["state"] != "UNSEEN"
        if method == "alipay.trade.query":
            if not visible:
                return _response(method, {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST",
                                          "sub_msg": "交易不存在"})
            status = STATUS[trade["state"]]
            return _response(method, {"code": "10000", "msg": "Success", "out_trade_no": no,
                                      "trade_no": trade["txn_id"] or "", "trade_status": status,
                                      "total_amount": _yuan(trade["amount_fen"]),
                                      "send_pay_date": datetime.fromtimestamp(trade["paid_at"], BEIJING).strftime(
                                          "%Y-%m-%d %H:%M:%S") if trade["paid_at"] else ""})
        if method == "alipay.trade.close":
            if trade is None or trade["state"] == "UNSEEN":
                # Nothing at Alipay yet: remember the close so the old cashier link cannot pay later.
                if trade is None:
                    new_trade("alipay", no, 0, "", "", "", None, state="CLOSED")
                else:
                    sim().store.set_state("alipay", no, "CLOSED", only_from=("UNSEEN",))
                return _response(method, {"code": "40004", "msg": "Business Failed",
                                          "sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "交易不存在"})
            if trade["state"] == "PAID":
                return _response(method, {"code": "40004", "msg": "Business Failed",
                                          "sub_code": "ACQ.TRADE_STATUS_ERROR", "sub_msg": "交易状态不合法"})
            sim().store.set_state("alipay", no, "CLOSED", only_from=("NOTPAY",))
            return _response(method, {"code": "10000", "msg": "Success", "out_trade_no": no})
        if method == "alipay.trade.refund":
            req_no = str(biz.get("out_request_no", ""))
            row = sim().store.one("SELECT * FROM refund WHERE provider='alipay' AND out_refund_no=?", req_no)
            if row is None:
                if trade is None or trade["state"] != "PAID":
                    return _response(method, {"code": "40004", "msg": "Business Failed",
                                              "sub_code": "ACQ.TRADE_STATUS_ERROR"})
                sim().store.run("INSERT INTO refund VALUES ('alipay', ?, ?, ?, ?)", req_no, no,
                                _fen(str(biz.get("refund_amount", "0"))), trade["txn_id"])
                row = sim().store.one("SELECT * FROM refund WHERE provider='alipay' AND out_refund_no=?", req_no)
            return _response(method, {"code": "10000", "msg": "Success", "out_trade_no": no,
                                      "trade_no": row["refund_id"], "refund_fee": _yuan(row["amount_fen"]),
                                      "fund_change": "Y"})
        return _response(method or "alipay.error", {"code": "40004", "msg": "Business Failed",
                                                    "sub_code": "isv.invalid-method"})
