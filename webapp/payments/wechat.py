"""WeChat Pay API v3 (JSAPI), the merchant's side: signed requests, and responses and notifications
accepted only when signed by the platform key we know (``Wechatpay-Serial``), with the signature type
WECHATPAY2-SHA256-RSA2048, and a ``Wechatpay-Timestamp`` within five minutes of our clock (R-PA-5).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlsplit

from .base import (
    BEIJING,
    AckResponse,
    CreateResult,
    Notification,
    Now,
    OrderRequest,
    PaymentError,
    ProviderRefused,
    ProviderStatus,
    QueryResult,
    RefundRequest,
    RefundResult,
    RefundStatus,
    SignatureError,
)
from .crypto import (
    LazyPrivateKey,
    aes_gcm_decrypt,
    load_public,
    nonce,
    rsa_sign,
    rsa_verify,
    wechat_public_key_id,
)
from .transport import Transport, TransportResponse

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
#: WeChat Pay's rule: refuse a response or notification whose timestamp is more than 5 minutes off.
FRESH_SECONDS = 300
REFUND_STATES = {
    "SUCCESS": RefundStatus.SUCCEEDED,
    "PROCESSING": RefundStatus.PROCESSING,
    "ABNORMAL": RefundStatus.PROCESSING,  # the payer's card refused it: WeChat holds it until it is handled
    "CLOSED": RefundStatus.REFUSED,
}


def fen(value: object) -> int:
    """``amount.total`` as WeChat writes it: a JSON integer of fen, nothing else (not 46000.0, not "46000")."""
    if type(value) is not int or not 0 < value < 10**12:
        raise PaymentError(f"amount is not a whole number of fen: {value!r}"[:120])
    return value


def _time(value: object) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError as e:
        raise PaymentError("unreadable time") from e
    return when if when.tzinfo else when.replace(tzinfo=BEIJING)


class WechatPayAdapter:
    """WeChat Pay API v3 (JSAPI) over HTTP."""

    name = "wechat"
    STATES = {
        "SUCCESS": ProviderStatus.PAID,
        "NOTPAY": ProviderStatus.NOT_PAID,
        "USERPAYING": ProviderStatus.PAYING,
        "CLOSED": ProviderStatus.CLOSED,
        "REVOKED": ProviderStatus.CLOSED,
        "PAYERROR": ProviderStatus.FAILED,
        "REFUND": ProviderStatus.REFUNDED,
    }

    def __init__(
        self,
        transport: Transport,
        *,
        base_url: str,
        mchid: str,
        appid: str,
        serial_no: str,
        merchant_key: str,
        platform_public_key: str,
        apiv3_key: bytes,
        now: Now,
        platform_key_id: str | None = None,
    ) -> None:
        self.transport, self.base_url = transport, base_url.rstrip("/")
        self.mchid, self.appid, self.serial_no = mchid, appid, serial_no
        self._key, self._platform = LazyPrivateKey(merchant_key), load_public(platform_public_key)
        self.platform_key_id = platform_key_id or wechat_public_key_id(self._platform)
        self._apiv3 = apiv3_key
        self._now = now

    def _timestamp(self) -> str:
        return str(int(self._now().timestamp()))

    def _call(self, method: str, path: str, doc: object | None = None) -> TransportResponse:
        body = "" if doc is None else json.dumps(doc, ensure_ascii=False)
        ts, nc = self._timestamp(), nonce()
        canonical = urlsplit(self.base_url).path + path  # the URL without scheme and host
        sig = rsa_sign(self._key, f"{method}\n{canonical}\n{ts}\n{nc}\n{body}\n")
        auth = (
            f'{SIGNATURE_TYPE} mchid="{self.mchid}",nonce_str="{nc}",signature="{sig}",'
            f'timestamp="{ts}",serial_no="{self.serial_no}"'
        )
        resp = self.transport.request(
            method,
            self.base_url + path,
            body=body.encode(),
            headers={"Authorization": auth, "Content-Type": "application/json", "Accept": "application/json"},
        )
        if resp.status >= 500:
            raise PaymentError(f"wechat {method} {path}: {resp.status}")
        self._verify(cast(Mapping[str, str], resp.headers), resp.body)  # werkzeug's Headers: case-insensitive
        return resp

    def _verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """The platform's signature over ``timestamp\\nnonce\\nbody\\n``, by the key we know, fresh."""
        sig = headers.get("Wechatpay-Signature", "")
        if sig.startswith("WECHATPAY/SIGNTEST/"):
            raise SignatureError("WeChat signature probe")
        if headers.get("Wechatpay-Serial", "") != self.platform_key_id:
            raise SignatureError(f"unknown Wechatpay-Serial {headers.get('Wechatpay-Serial', '')[:40]!r}")
        if headers.get("Wechatpay-Signature-Type", SIGNATURE_TYPE) != SIGNATURE_TYPE:
            raise SignatureError("unsupported Wechatpay-Signature-Type")
        ts = headers.get("Wechatpay-Timestamp", "")
        if not (ts.isascii() and ts.isdigit()) or abs(self._now().timestamp() - int(ts)) > FRESH_SECONDS:
            raise SignatureError("stale or missing Wechatpay-Timestamp")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise SignatureError("body is not UTF-8") from e
        rsa_verify(self._platform, f"{ts}\n{headers.get('Wechatpay-Nonce', '')}\n{text}\n", sig)

    def create(self, order: OrderRequest) -> CreateResult:
        """JSAPI order → prepay_id → signed pay-sheet parameters and the cashier."""
        resp = self._call(
            "POST",
            "/v3/pay/transactions/jsapi",
            {
                "appid": self.appid,
                "mchid": self.mchid,
                "description": order.description,
                "out_trade_no": order.out_trade_no,
                "time_expire": order.expire_at.astimezone(BEIJING).isoformat(timespec="seconds"),
                "notify_url": order.notify_url,
                "redirect_url": order.return_url,
                "amount": {"total": order.amount_fen, "currency": "CNY"},
                "payer": {"openid": "o-demo"},
            },
        )
        if resp.status != 200:
            doc = resp.json() or {}
            raise ProviderRefused(f"wechat create {resp.status} {doc.get('code', '')}: {doc.get('message', '')}")
        prepay_id = resp.json()["prepay_id"]
        ts, nc = self._timestamp(), nonce()
        package = f"prepay_id={prepay_id}"
        pay_sign = rsa_sign(self._key, f"{self.appid}\n{ts}\n{nc}\n{package}\n")
        sheet = {
            "appId": self.appid,
            "timeStamp": ts,
            "nonceStr": nc,
            "package": package,
            "signType": "RSA",
            "paySign": pay_sign,
        }
        return CreateResult(cashier_url=f"{self.base_url}/pay/{prepay_id}", provider_ref=prepay_id, extra=sheet)

    def verify_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """Verify the headers' signature, decrypt the resource, parse the transaction."""
        self._verify(headers, body)
        try:
            res = json.loads(body)["resource"]
            plain = aes_gcm_decrypt(self._apiv3, res["nonce"], res.get("associated_data", ""), res["ciphertext"])
            tx = json.loads(plain)
        except (KeyError, TypeError, ValueError) as e:
            raise PaymentError("unreadable notification") from e
        if not isinstance(tx, dict):
            raise PaymentError("unreadable notification")
        if tx.get("mchid") not in (None, self.mchid):
            raise SignatureError("notification for another merchant")
        return Notification(out_trade_no=str(tx.get("out_trade_no", "")), **self._fields(tx))

    def _fields(self, tx: Mapping[str, object]) -> dict[str, Any]:
        """The transaction's state, amount and time, parsed exactly; ``PaymentError`` when they do not parse
        (a paid transaction always carries its amount)."""
        status = self.STATES.get(str(tx.get("trade_state")), ProviderStatus.PAYING)
        amount = tx.get("amount")
        total = amount.get("total") if isinstance(amount, dict) else None
        if total is None and status is ProviderStatus.PAID:
            raise PaymentError("a paid transaction without amount.total")
        return {
            "status": status,
            "amount_fen": None if total is None else fen(total),
            "provider_txn_id": str(tx.get("transaction_id", "")),
            "paid_at": _time(tx.get("success_time")),
            "reason": str(tx.get("trade_state_desc", "")),
        }

    def ack(self, ok: bool) -> AckResponse:
        """204 on success; 4xx with code FAIL asks WeChat to retry."""
        if ok:
            return AckResponse(204, b"", "application/json")
        return AckResponse(400, json.dumps({"code": "FAIL", "message": "失败"}).encode(), "application/json")

    def query(self, out_trade_no: str) -> QueryResult:
        """GET the order by out_trade_no."""
        resp = self._call("GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={self.mchid}")
        if resp.status == 404:
            return QueryResult(ProviderStatus.NOT_FOUND)
        if resp.status != 200:
            raise PaymentError(f"wechat query {resp.status}")
        return QueryResult(**self._fields(self._doc(resp)))

    @staticmethod
    def _doc(resp: TransportResponse) -> dict[str, object]:
        try:
            doc = resp.json()
        except ValueError as e:
            raise PaymentError("wechat answered something that is not JSON") from e
        if not isinstance(doc, dict):
            raise PaymentError("wechat answered something that is not an object")
        return doc

    def close(self, out_trade_no: str) -> QueryResult:
        """Close: 204 → CLOSED (the number can never be paid); ORDERPAID → the paid transaction."""
        resp = self._call("POST", f"/v3/pay/transactions/out-trade-no/{out_trade_no}/close", {"mchid": self.mchid})
        if resp.status == 204:
            return QueryResult(ProviderStatus.CLOSED)
        code = self._doc(resp).get("code") if resp.body else ""
        if code == "ORDERPAID":
            return self.query(out_trade_no)  # what it took, in WeChat's own words
        if code in ("ORDER_NOT_EXIST", "ORDER_CLOSED", "ORDERCLOSED"):
            return QueryResult(ProviderStatus.CLOSED)
        raise PaymentError(f"wechat close {resp.status} {code}")

    def refund(self, request: RefundRequest) -> RefundResult:
        """申请退款, keyed by out_refund_no; WeChat usually answers PROCESSING and finishes later."""
        resp = self._call(
            "POST",
            "/v3/refund/domestic/refunds",
            {
                "out_trade_no": request.out_trade_no,
                "out_refund_no": request.out_refund_no,
                "reason": "缴费未成功，原路退回",
                "amount": {"refund": request.amount_fen, "total": request.total_fen, "currency": "CNY"},
            },
        )
        doc = self._doc(resp) if resp.body else {}
        if resp.status == 200:
            return self._refund(doc)
        return RefundResult(RefundStatus.REFUSED, reason=f"{doc.get('code', '')} {doc.get('message', '')}".strip())

    def refund_status(self, request: RefundRequest) -> RefundResult:
        """查询单笔退款 by out_refund_no."""
        resp = self._call("GET", f"/v3/refund/domestic/refunds/{request.out_refund_no}")
        if resp.status == 404:
            return RefundResult(RefundStatus.NOT_FOUND)
        if resp.status != 200:
            raise PaymentError(f"wechat refund query {resp.status}")
        return self._refund(self._doc(resp))

    @staticmethod
    def _refund(doc: Mapping[str, object]) -> RefundResult:
        status = REFUND_STATES.get(str(doc.get("status", "")))
        if status is None:
            raise PaymentError(f"wechat refund status {str(doc.get('status'))[:20]!r}")
        return RefundResult(
            status,
            str(doc.get("refund_id", "")),
            "退款关闭" if status is RefundStatus.REFUSED else "",
            _time(doc.get("success_time")),
        )
