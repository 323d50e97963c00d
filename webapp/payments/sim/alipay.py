"""Alipay, simulated: wap pay through gateway.do, query, close, refund; RSA2 over the sorted
``k=v&…`` string. No trade exists until the buyer opens the cashier, so a query before that says
ACQ.TRADE_NOT_EXIST; a close before that is remembered, so that cashier link can never pay.
The notify_url gets a signed form and wants exactly ``success``.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, redirect, request, url_for

from ..base import BEIJING, SignatureError
from ..crypto import rsa_sign, rsa_verify, sign_string
from . import charge, down, expire_if_due, new_trade, refund_down, refund_processing, sim, taken_fen, tombstone

BJ_FMT = "%Y-%m-%d %H:%M:%S"
STATUS = {"NOTPAY": "WAIT_BUYER_PAY", "PAID": "TRADE_SUCCESS", "CLOSED": "TRADE_CLOSED", "REFUNDED": "TRADE_CLOSED"}


def _yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


def _fen(yuan: str) -> int | None:
    try:
        value = Decimal(yuan)
    except (InvalidOperation, ValueError):
        return None
    return int(value * 100) if value > 0 and value == value.quantize(Decimal("0.01")) else None


def _bj(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, BEIJING).strftime(BJ_FMT)


def _response(method: str, payload: dict[str, Any]) -> Response:
    inner = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    sig = rsa_sign(sim().platform_key("alipay"), inner)
    key = method.replace(".", "_") + "_response"
    return Response(f'{{"{key}":{inner},"sign":"{sig}"}}', content_type="application/json; charset=utf-8")


def _not_exist(method: str) -> Response:
    return _response(
        method, {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "交易不存在"}
    )


def _signed_params(params: dict[str, str]) -> dict[str, str]:
    params = {k: v for k, v in params.items() if v != ""}
    params["sign_type"] = "RSA2"
    params["sign"] = rsa_sign(sim().platform_key("alipay"), sign_string(params, ("sign", "sign_type")))
    return params


def mark_paid(trade: Any) -> bool:
    """The buyer paid: record it and notify the merchant with a signed form. False if not payable."""
    txn = datetime.fromtimestamp(sim().now(), BEIJING).strftime("%Y%m%d") + "2200" + secrets.token_hex(7)[:14]
    trade = charge("alipay", trade, txn)
    if trade is None:
        return False
    extra = json.loads(trade["extra"])

    def build(bad: bool) -> tuple[dict[str, str], bytes]:
        taken = _yuan(taken_fen(trade))
        params = _signed_params(
            {
                "notify_time": _bj(sim().now()),
                "notify_type": "trade_status_sync",
                "notify_id": secrets.token_hex(16),
                "app_id": extra.get("app_id", ""),
                "charset": "utf-8",
                "version": "1.0",
                "trade_no": trade["txn_id"],
                "out_trade_no": trade["out_trade_no"],
                "total_amount": taken,
                "receipt_amount": taken,
                "buyer_pay_amount": taken,
                "trade_status": "TRADE_SUCCESS",
                "subject": trade["description"] or "",
                "gmt_create": _bj(trade["created"]),
                "gmt_payment": _bj(trade["paid_at"]),
            }
        )
        if bad:
            params["total_amount"] = _yuan(taken_fen(trade) + 1)  # tampered after signing
        return ({"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, urlencode(params).encode())

    sim().notifier.enqueue("alipay", trade["out_trade_no"], trade["notify_url"], build)
    return True


def return_redirect(trade: Any, paid: bool) -> str:
    """Back to return_url with signed params that prove nothing (the merchant must query); 返回商户 without
    paying goes to quit_url (用户付款中途退出返回商户网站的地址) when the merchant gave one."""
    if not paid:
        return json.loads(trade["extra"]).get("quit_url") or trade["return_url"]
    params = _signed_params(
        {
            "method": "alipay.trade.wap.pay.return",
            "out_trade_no": trade["out_trade_no"],
            "trade_no": trade["txn_id"] or "",
            "total_amount": _yuan(trade["amount_fen"]),
            "timestamp": _bj(sim().now()),
        }
    )
    sep = "&" if "?" in trade["return_url"] else "?"
    return trade["return_url"] + sep + urlencode(params)


def register(bp: Blueprint) -> None:
    """The gateway."""

    @bp.route("/gateway.do", methods=["GET", "POST"])
    def gateway() -> Any:
        if down("alipay"):
            return Response("Service Unavailable", status=503)
        params = {k: v for k, v in request.values.items()}
        method = params.get("method", "")
        try:
            rsa_verify(sim().merchant_public("alipay"), sign_string(params, ("sign",)), params.get("sign", ""))
        except SignatureError:
            return _response(
                method or "alipay.error",
                {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature"},
            )
        try:
            biz = json.loads(params.get("biz_content") or "{}")
        except ValueError:
            biz = None
        if not isinstance(biz, dict):
            return _response(
                method or "alipay.error",
                {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-biz-content"},
            )
        no = str(biz.get("out_trade_no", ""))
        trade = expire_if_due("alipay", sim().store.trade("alipay", no)) if no else None
        if method == "alipay.trade.wap.pay":
            return _wap_pay(params, biz, no, trade)
        visible = trade is not None and trade["state"] != "UNSEEN" and trade["amount_fen"]
        if method == "alipay.trade.query":
            if not visible:
                return _not_exist(method)
            assert trade is not None  # visible
            return _response(
                method,
                {
                    "code": "10000",
                    "msg": "Success",
                    "out_trade_no": no,
                    "trade_no": trade["txn_id"] or "",
                    "trade_status": STATUS[trade["state"]],
                    "total_amount": _yuan(taken_fen(trade)),
                    "send_pay_date": _bj(trade["paid_at"]) if trade["paid_at"] else "",
                },
            )
        if method == "alipay.trade.close":
            if not visible:
                # Nothing at Alipay yet: remember the close so the old cashier link cannot pay later.
                if trade is None:
                    tombstone("alipay", no)
                else:
                    sim().store.set_state("alipay", no, "CLOSED", only_from=("UNSEEN",))
                return _not_exist(method)
            sim().store.set_state("alipay", no, "CLOSED", only_from=("NOTPAY",))
            closed = sim().store.trade("alipay", no)
            assert closed is not None  # it was read above
            if closed["state"] == "PAID":
                return _response(
                    method,
                    {
                        "code": "40004",
                        "msg": "Business Failed",
                        "sub_code": "ACQ.TRADE_STATUS_ERROR",
                        "sub_msg": "交易状态不合法",
                    },
                )
            return _response(method, {"code": "10000", "msg": "Success", "out_trade_no": no})
        if method in ("alipay.trade.refund", "alipay.trade.fastpay.refund.query") and refund_down("alipay"):
            return Response("Service Unavailable", status=503)
        if method == "alipay.trade.refund":
            return _refund(method, biz, no, trade)
        if method == "alipay.trade.fastpay.refund.query":
            return _refund_query(method, biz, no)
        return _response(
            method or "alipay.error", {"code": "40004", "msg": "Business Failed", "sub_code": "isv.invalid-method"}
        )

    def _wap_pay(params: dict[str, str], biz: dict[str, Any], no: str, trade: Any) -> Any:
        if trade is None:
            amount = _fen(str(biz.get("total_amount", "")))
            if not no or amount is None:
                return Response(
                    "参数错误：out_trade_no 或 total_amount 不正确",
                    status=400,
                    content_type="text/plain; charset=utf-8",
                )
            expire = None
            if biz.get("time_expire"):
                try:
                    expire = datetime.strptime(biz["time_expire"], BJ_FMT).replace(tzinfo=BEIJING).timestamp()
                except (TypeError, ValueError):
                    return Response("参数错误：time_expire", status=400, content_type="text/plain; charset=utf-8")
            if expire is not None and sim().now() > expire:
                return Response(
                    "交易已超时关闭，请返回商户重新下单", status=400, content_type="text/plain; charset=utf-8"
                )
            new_trade(
                "alipay",
                no,
                amount,
                params.get("notify_url", ""),
                params.get("return_url", ""),
                str(biz.get("subject", "")),
                expire,
                state="UNSEEN",
                app_id=params.get("app_id"),
                quit_url=str(biz.get("quit_url", "")),
            )
            trade = sim().store.trade("alipay", no)
        elif trade["state"] == "CLOSED":
            return Response("交易已关闭，请返回商户重新下单", status=400, content_type="text/plain; charset=utf-8")
        return redirect(url_for(f"{bp.name}.cashier", token=trade["token"]))

    def _refund(method: str, biz: dict[str, Any], no: str, trade: Any) -> Response:
        req_no = str(biz.get("out_request_no", "") or no)
        amount = _fen(str(biz.get("refund_amount", "")))
        row = sim().store.refund("alipay", req_no)
        if row is None:
            if trade is None or trade["state"] != "PAID":
                return _response(
                    method,
                    {
                        "code": "40004",
                        "msg": "Business Failed",
                        "sub_code": "ACQ.TRADE_STATUS_ERROR",
                        "sub_msg": "交易状态不合法",
                    },
                )
            if amount is None or amount > taken_fen(trade) - sim().store.refunded_fen("alipay", no):
                return _response(
                    method,
                    {
                        "code": "40004",
                        "msg": "Business Failed",
                        "sub_code": "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
                        "sub_msg": "退款金额超限",
                    },
                )
            row = sim().store.add_refund("alipay", req_no, no, amount, trade["txn_id"], sim().now())
        elif row["amount_fen"] != amount:
            return _response(
                method,
                {
                    "code": "40004",
                    "msg": "Business Failed",
                    "sub_code": "ACQ.REQUEST_AMOUNT_EXCEED",
                    "sub_msg": "请求退款金额与原请求不一致",
                },
            )
        done = not refund_processing("alipay")
        return _response(
            method,
            {
                "code": "10000",
                "msg": "Success",
                "out_trade_no": no,
                "trade_no": row["refund_id"],
                "refund_fee": _yuan(sim().store.refunded_fen("alipay", no)),
                "fund_change": "Y" if done else "N",
                **({"gmt_refund_pay": _bj(row["created"] or sim().now())} if done else {}),
            },
        )

    def _refund_query(method: str, biz: dict[str, Any], no: str) -> Response:
        """alipay.trade.fastpay.refund.query: the refund once it is done; nothing about it before."""
        req_no = str(biz.get("out_request_no", "") or no)
        row = sim().store.refund("alipay", req_no)
        if row is None or row["out_trade_no"] != no or refund_processing("alipay"):
            return _response(method, {"code": "10000", "msg": "Success"})
        trade = sim().store.trade("alipay", no)
        return _response(
            method,
            {
                "code": "10000",
                "msg": "Success",
                "trade_no": row["refund_id"],
                "out_trade_no": no,
                "out_request_no": req_no,
                "total_amount": _yuan(taken_fen(trade)) if trade else "0.00",
                "refund_amount": _yuan(row["amount_fen"]),
                "refund_status": "REFUND_SUCCESS",
                "gmt_refund_pay": _bj(row["created"] or sim().now()),
            },
        )
