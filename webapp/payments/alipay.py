"""Alipay open API (wap pay), the merchant's side: RSA2 over the sorted ``k=v&…`` string both ways;
notifications answered with exactly ``success``. No trade exists at Alipay until the buyer opens the
cashier, so ACQ.TRADE_NOT_EXIST before that means "unknown", never "failed".
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode

from .base import (
    BEIJING,
    AckResponse,
    CreateResult,
    Notification,
    Now,
    OrderRequest,
    PaymentError,
    ProviderStatus,
    QueryResult,
    RefundRequest,
    RefundResult,
    RefundStatus,
    SignatureError,
)
from .crypto import LazyPrivateKey, load_public, rsa_sign, rsa_verify, sign_string
from .transport import Transport

TIME_FMT = "%Y-%m-%d %H:%M:%S"


def yuan_text(fen: int) -> str:
    """``46000`` → ``"460.00"`` (Alipay speaks yuan with two decimals)."""
    return f"{Decimal(fen) / 100:.2f}"


YUAN = re.compile(r"(0|[1-9][0-9]{0,9})\.([0-9]{2})")


def fen_of(text: str | None) -> int | None:
    """``"460.00"`` → ``46000``; None when there is no amount. Alipay writes yuan with exactly two decimals:
    anything else (``"460.009"``, ``"NaN"``, ``"460"``, ``"4.6E+2"``) is ``PaymentError``, never rounded."""
    if text is None or text == "":
        return None
    m = YUAN.fullmatch(text)
    if m is None:
        raise PaymentError(f"amount is not yuan with two decimals: {text[:40]!r}")
    return int(m.group(1)) * 100 + int(m.group(2))


def parse_time(text: str | None) -> datetime | None:
    """Alipay's Beijing ``yyyy-MM-dd HH:mm:ss``."""
    if not text:
        return None
    try:
        return datetime.strptime(text, TIME_FMT).replace(tzinfo=BEIJING)
    except ValueError:
        return None


class AlipayAdapter:
    """Alipay (public-key mode, RSA2) over HTTP."""

    name = "alipay"
    STATES = {
        "TRADE_SUCCESS": ProviderStatus.PAID,
        "TRADE_FINISHED": ProviderStatus.PAID,
        # The buyer opened the cashier and has not paid (or left it): unpaid, as WeChat's NOTPAY. Alipay knows no
        # "still paying" state for a wap trade; a payment under way shows as paid or not at all.
        "WAIT_BUYER_PAY": ProviderStatus.NOT_PAID,
        "TRADE_CLOSED": ProviderStatus.CLOSED,
    }

    def __init__(
        self,
        transport: Transport,
        *,
        gateway_url: str,
        app_id: str,
        app_private_key: str,
        alipay_public_key: str,
        now: Now,
    ) -> None:
        self.transport, self.gateway_url, self.app_id = transport, gateway_url, app_id
        self._key, self._platform = LazyPrivateKey(app_private_key), load_public(alipay_public_key)
        self._now = now

    def _params(self, method: str, biz: Mapping[str, object], **extra: str) -> dict[str, str]:
        params = {
            "app_id": self.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": self._now().astimezone(BEIJING).strftime(TIME_FMT),
            "version": "1.0",
            "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
            **extra,
        }
        params["sign"] = rsa_sign(self._key, sign_string(params, ("sign",)))
        return params

    def _call(self, method: str, biz: Mapping[str, object]) -> dict[str, object]:
        resp = self.transport.request(
            "POST",
            self.gateway_url,
            body=urlencode(self._params(method, biz)).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
        try:
            text = resp.body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise PaymentError(f"alipay {method}: not UTF-8") from e
        key = '"' + method.replace(".", "_") + '_response":'
        start, end = text.find(key), text.rfind(',"sign":"')
        if resp.status != 200 or start < 0 or end < 0:
            raise PaymentError(f"alipay {method} {resp.status}")
        inner = text[start + len(key) : end]
        sig = text[end + len(',"sign":"') :].rstrip("}").rstrip('"')
        rsa_verify(self._platform, inner, sig)
        try:
            doc = json.loads(inner)
        except ValueError as e:
            raise PaymentError(f"alipay {method}: not JSON") from e
        if not isinstance(doc, dict):
            raise PaymentError(f"alipay {method}: not an object")
        return doc

    def create(self, order: OrderRequest) -> CreateResult:
        """No call: the buyer's browser takes the signed wap.pay request to the gateway."""
        params = self._params(
            "alipay.trade.wap.pay",
            {
                "out_trade_no": order.out_trade_no,
                "total_amount": yuan_text(order.amount_fen),
                "subject": order.description,
                "product_code": "QUICK_WAP_WAY",
                "time_expire": order.expire_at.astimezone(BEIJING).strftime(TIME_FMT),
                "quit_url": order.return_url,  # 返回商户 without paying comes back here too: the app asks and closes
            },
            notify_url=order.notify_url,
            return_url=order.return_url,
        )
        return CreateResult(cashier_url=f"{self.gateway_url}?{urlencode(params)}")

    def verify_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """Verify the form's RSA2 signature (without sign and sign_type), for our app_id, and parse it."""
        try:
            params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError as e:
            raise SignatureError("body is not UTF-8") from e
        if params.get("sign_type", "RSA2") != "RSA2":
            raise SignatureError("sign_type must be RSA2")
        rsa_verify(self._platform, sign_string(params, ("sign", "sign_type")), params.get("sign", ""))
        if params.get("app_id") != self.app_id:
            raise SignatureError("notification for another app_id")
        status = self.STATES.get(params.get("trade_status", ""), ProviderStatus.PAYING)
        amount = fen_of(params.get("total_amount"))
        if status is ProviderStatus.PAID and not amount:
            raise PaymentError("a paid trade without total_amount")
        return Notification(
            out_trade_no=params.get("out_trade_no", ""),
            status=status,
            amount_fen=amount,
            provider_txn_id=params.get("trade_no", ""),
            paid_at=parse_time(params.get("gmt_payment")),
        )

    def ack(self, ok: bool) -> AckResponse:
        """Exactly ``success``, or Alipay retries."""
        return AckResponse(200, b"success" if ok else b"fail")

    def query(self, out_trade_no: str) -> QueryResult:
        """alipay.trade.query; TRADE_NOT_EXIST means unknown (the buyer may not have confirmed yet)."""
        r = self._call("alipay.trade.query", {"out_trade_no": out_trade_no})
        if r.get("code") != "10000":
            if r.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return QueryResult(ProviderStatus.NOT_FOUND)
            raise PaymentError(f"alipay query {r.get('sub_code')}")
        status = self.STATES.get(str(r.get("trade_status")), ProviderStatus.PAYING)
        amount = fen_of(str(r.get("total_amount") or ""))
        if status is ProviderStatus.PAID and not amount:
            raise PaymentError("a paid trade without total_amount")
        return QueryResult(
            status,
            amount,
            str(r.get("trade_no", "")),
            parse_time(str(r.get("send_pay_date") or "")),
        )

    def close(self, out_trade_no: str) -> QueryResult:
        """alipay.trade.close; a paid trade cannot close, so report what the query says."""
        r = self._call("alipay.trade.close", {"out_trade_no": out_trade_no})
        if r.get("code") == "10000" or r.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
            return QueryResult(ProviderStatus.CLOSED)
        if r.get("sub_code") == "ACQ.TRADE_STATUS_ERROR":
            q = self.query(out_trade_no)
            if q.status is ProviderStatus.PAID:
                return q
            return QueryResult(ProviderStatus.CLOSED)
        raise PaymentError(f"alipay close {r.get('sub_code')}")

    def refund(self, request: RefundRequest) -> RefundResult:
        """alipay.trade.refund keyed by out_request_no; ``fund_change=Y`` means the money moved back."""
        r = self._call(
            "alipay.trade.refund",
            {
                "out_trade_no": request.out_trade_no,
                "out_request_no": request.out_refund_no,
                "refund_amount": yuan_text(request.amount_fen),
                "refund_reason": "缴费未成功，原路退回",
            },
        )
        if r.get("code") != "10000":
            return RefundResult(RefundStatus.REFUSED, reason=f"{r.get('sub_code', '')} {r.get('sub_msg', '')}".strip())
        done = r.get("fund_change") == "Y"
        return RefundResult(
            RefundStatus.SUCCEEDED if done else RefundStatus.PROCESSING,
            str(r.get("trade_no", "")),
            refunded_at=parse_time(str(r.get("gmt_refund_pay") or "")) if done else None,
        )

    def refund_status(self, request: RefundRequest) -> RefundResult:
        """alipay.trade.fastpay.refund.query: an answer naming the refund (refund_status REFUND_SUCCESS, or none
        given) means refunded; an answer without it means Alipay never took the request: send it again."""
        r = self._call(
            "alipay.trade.fastpay.refund.query",
            {"out_trade_no": request.out_trade_no, "out_request_no": request.out_refund_no},
        )
        if r.get("code") != "10000":
            if r.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return RefundResult(RefundStatus.NOT_FOUND)
            raise PaymentError(f"alipay refund query {r.get('sub_code')}")
        if not r.get("out_request_no") or r.get("refund_amount") in (None, ""):
            return RefundResult(RefundStatus.NOT_FOUND)
        if r.get("refund_status") not in (None, "", "REFUND_SUCCESS"):
            return RefundResult(RefundStatus.PROCESSING, str(r.get("trade_no", "")))
        return RefundResult(
            RefundStatus.SUCCEEDED,
            str(r.get("trade_no", "")),
            refunded_at=parse_time(str(r.get("gmt_refund_pay") or "")),
        )
