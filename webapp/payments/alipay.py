"""Alipay open API (wap pay), the merchant's side: RSA2 over the sorted ``k=v&…`` string both ways;
notifications answered with exactly ``success``. No trade exists at Alipay until the buyer opens the
cashier, so ACQ.TRADE_NOT_EXIST before that means "unknown", never "failed".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
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
    RefundResult,
    SignatureError,
)
from .crypto import LazyPrivateKey, load_public, rsa_sign, rsa_verify, sign_string
from .transport import Transport

TIME_FMT = "%Y-%m-%d %H:%M:%S"


def yuan_text(fen: int) -> str:
    """``46000`` → ``"460.00"`` (Alipay speaks yuan with two decimals)."""
    return f"{Decimal(fen) / 100:.2f}"


def fen_of(text: str | None) -> int | None:
    """``"460.00"`` → ``46000``; None for a missing or unreadable amount."""
    if not text:
        return None
    try:
        return int(Decimal(text) * 100)
    except (InvalidOperation, ValueError):
        return None


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
        "WAIT_BUYER_PAY": ProviderStatus.PAYING,
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
        return json.loads(inner)

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
        return Notification(
            out_trade_no=params.get("out_trade_no", ""),
            status=self.STATES.get(params.get("trade_status", ""), ProviderStatus.PAYING),
            amount_fen=fen_of(params.get("total_amount")),
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
        return QueryResult(
            self.STATES.get(str(r.get("trade_status")), ProviderStatus.PAYING),
            fen_of(str(r.get("total_amount") or "")),
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

    def refund(
        self, out_trade_no: str, out_refund_no: str, amount_fen: int, total_fen: int, provider_txn_id: str = ""
    ) -> RefundResult:
        """alipay.trade.refund keyed by out_request_no."""
        r = self._call(
            "alipay.trade.refund",
            {"out_trade_no": out_trade_no, "out_request_no": out_refund_no, "refund_amount": yuan_text(amount_fen)},
        )
        return RefundResult(
            r.get("code") == "10000",
            str(r.get("trade_no", "")),
            f"{r.get('sub_code', '')} {r.get('sub_msg', '')}".strip(),
        )
