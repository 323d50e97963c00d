"""WeChat Pay API v3 (JSAPI), the merchant's side: signed requests, and responses and notifications
accepted only when signed by the platform key we know (``Wechatpay-Serial``), with the signature type
WECHATPAY2-SHA256-RSA2048, and a ``Wechatpay-Timestamp`` within five minutes of our clock (R-PA-5).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
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
    RefundResult,
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
        self._verify(resp.headers, resp.body)
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
        if tx.get("mchid") not in (None, self.mchid):
            raise SignatureError("notification for another merchant")
        return Notification(out_trade_no=str(tx.get("out_trade_no", "")), **self._fields(tx))

    def _fields(self, tx: Mapping[str, object]) -> dict[str, object]:
        amount = tx.get("amount") or {}
        total = amount.get("total") if isinstance(amount, dict) else None
        paid_at = datetime.fromisoformat(str(tx["success_time"])) if tx.get("success_time") else None
        return {
            "status": self.STATES.get(str(tx.get("trade_state")), ProviderStatus.PAYING),
            "amount_fen": total if isinstance(total, int) else None,
            "provider_txn_id": str(tx.get("transaction_id", "")),
            "paid_at": paid_at,
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
        return QueryResult(**self._fields(resp.json()))  # type: ignore[arg-type]

    def close(self, out_trade_no: str) -> QueryResult:
        """Close: 204 → CLOSED (the number can never be paid); ORDERPAID → the paid transaction."""
        resp = self._call("POST", f"/v3/pay/transactions/out-trade-no/{out_trade_no}/close", {"mchid": self.mchid})
        if resp.status == 204:
            return QueryResult(ProviderStatus.CLOSED)
        code = (resp.json() or {}).get("code") if resp.body else ""
        if code == "ORDERPAID":
            return self.query(out_trade_no)
        if code == "ORDER_NOT_EXIST":
            return QueryResult(ProviderStatus.CLOSED)
        raise PaymentError(f"wechat close {resp.status} {code}")

    def refund(
        self, out_trade_no: str, out_refund_no: str, amount_fen: int, total_fen: int, provider_txn_id: str = ""
    ) -> RefundResult:
        """Refund keyed by out_refund_no."""
        resp = self._call(
            "POST",
            "/v3/refund/domestic/refunds",
            {
                "out_trade_no": out_trade_no,
                "out_refund_no": out_refund_no,
                "amount": {"refund": amount_fen, "total": total_fen, "currency": "CNY"},
            },
        )
        doc = resp.json() or {}
        if resp.status == 200:
            return RefundResult(True, str(doc.get("refund_id", "")))
        return RefundResult(False, reason=f"{doc.get('code', '')} {doc.get('message', '')}".strip())
