"""The app's side of each provider: one PaymentAdapter per provider, over HTTP (R-PA-2)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode, urlsplit

from .base import (
    BEIJING,
    AckResponse,
    CreateResult,
    Notification,
    OrderRequest,
    PaymentError,
    ProviderStatus,
    QueryResult,
    RefundResult,
    SignatureError,
)
from .crypto import aes_gcm_decrypt, load_private, load_public, nonce, rsa_sign, rsa_verify, sign_string
from .transport import Transport, TransportResponse

BEIJING_FMT = "%Y-%m-%d %H:%M:%S"


def _beijing(dt: datetime) -> datetime:

    return dt.astimezone(BEIJING)


class WechatPayAdapter:
    """WeChat Pay API v3 (JSAPI): signed requests, verified responses and notifications."""

    name = "wechat"
    STATES = {"SUCCESS": ProviderStatus.PAID, "NOTPAY": ProviderStatus.NOT_PAID, "USERPAYING": ProviderStatus.PAYING,
              "CLOSED": ProviderStatus.CLOSED, "REVOKED": ProviderStatus.CLOSED, "PAYERROR": ProviderStatus.FAILED,
              "REFUND": ProviderStatus.REFUNDED}

    def __init__(self, transport: Transport, *, base_url: str, mchid: str, appid: str, serial_no: str,
                 merchant_key: str, platform_public_key: str, apiv3_key: bytes) -> None:
        self.transport, self.base_url = transport, base_url.rstrip("/")
        self.mchid, self.appid, self.serial_no = mchid, appid, serial_no
        self._key, self._platform = load_private(merchant_key), load_public(platform_public_key)
        self._apiv3 = apiv3_key

    def _call(self, method: str, path: str, doc: object | None = None) -> TransportResponse:
        body = "" if doc is None else json.dumps(doc, ensure_ascii=False)
        ts, nc = str(int(time.time())), nonce()
        canonical = urlsplit(self.base_url).path + path  # the URL without scheme and host
        sig = rsa_sign(self._key, f"{method}\n{canonical}\n{ts}\n{nc}\n{body}\n")
        auth = (f'WECHATPAY2-SHA256-RSA2048 mchid="{self.mchid}",nonce_str="{nc}",signature="{sig}",'
                f'timestamp="{ts}",serial_no="{self.serial_no}"')
        resp = self.transport.request(method, self.base_url + path, body=body.encode(), headers={
            "Authorization": auth, "Content-Type": "application/json", "Accept": "application/json"})
        self._verify(resp.headers, resp.body)
        return resp

    def _verify(self, headers: Mapping[str, str], body: bytes) -> None:
        sig = headers.get("Wechatpay-Signature", "")
        if sig.startswith("WECHATPAY/SIGNTEST/"):
            raise SignatureError("WeChat signature probe")
        message = f"{headers.get('Wechatpay-Timestamp', '')}\n{headers.get('Wechatpay-Nonce', '')}\n" \
                  f"{body.decode()}\n"
        rsa_verify(self._platform, message, sig)

    def create(self, order: OrderRequest) -> CreateResult:
        """JSAPI order → prepay_id → signed pay-sheet parameters and the cashier."""
        resp = self._call("POST", "/v3/pay/transactions/jsapi", {
            "appid": self.appid, "mchid": self.mchid, "description": order.description,
            "out_trade_no": order.out_trade_no, "time_expire": _beijing(order.expire_at).isoformat(timespec="seconds"),
            "notify_url": order.notify_url, "redirect_url": order.return_url,
            "amount": {"total": order.amount_fen, "currency": "CNY"}, "payer": {"openid": "o-demo"}})
        if resp.status != 200:
            raise PaymentError(f"wechat create {resp.status}: {resp.body[:200]!r}")
        prepay_id = resp.json()["prepay_id"]
        ts, nc = str(int(time.time())), nonce()
        package = f"prepay_id={prepay_id}"
        pay_sign = rsa_sign(self._key, f"{self.appid}\n{ts}\n{nc}\n{package}\n")
        sheet = {"appId": self.appid, "timeStamp": ts, "nonceStr": nc, "package": package, "signType": "RSA",
                 "paySign": pay_sign}
        return CreateResult(cashier_url=f"{self.base_url}/pay/{prepay_id}", provider_ref=prepay_id, extra=sheet)

    def verify_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """Verify the headers' signature, decrypt the resource, parse the transaction."""
        self._verify(headers, body)
        try:
            res = json.loads(body)["resource"]
            plain = aes_gcm_decrypt(self._apiv3, res["nonce"], res.get("associated_data", ""), res["ciphertext"])
            tx = json.loads(plain)
        except (KeyError, ValueError) as e:
            raise PaymentError("unreadable notification") from e
        return self._result(tx, Notification)  # type: ignore[return-value]

    def _result(self, tx: Mapping[str, object], cls: type) -> Notification | QueryResult:
        amount = tx.get("amount") or {}
        paid_at = datetime.fromisoformat(str(tx["success_time"])) if tx.get("success_time") else None
        status = self.STATES.get(str(tx.get("trade_state")), ProviderStatus.PAYING)
        kw = {"status": status, "amount_fen": amount.get("total") if isinstance(amount, dict) else None,
              "provider_txn_id": str(tx.get("transaction_id", "")), "paid_at": paid_at,
              "reason": str(tx.get("trade_state_desc", ""))}
        if cls is Notification:
            return Notification(out_trade_no=str(tx.get("out_trade_no", "")), **kw)  # type: ignore[arg-type]
        return QueryResult(**kw)  # type: ignore[arg-type]

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
        return self._result(resp.json(), QueryResult)  # type: ignore[return-value]

    def close(self, out_trade_no: str) -> QueryResult:
        """Close: 204 → CLOSED; ORDERPAID → PAID (then query for the details)."""
        resp = self._call("POST", f"/v3/pay/transactions/out-trade-no/{out_trade_no}/close", {"mchid": self.mchid})
        if resp.status == 204:
            return QueryResult(ProviderStatus.CLOSED)
        code = (resp.json() or {}).get("code") if resp.body else ""
        if code == "ORDERPAID":
            return self.query(out_trade_no)
        if code == "ORDER_NOT_EXIST":
            return QueryResult(ProviderStatus.CLOSED)
        raise PaymentError(f"wechat close {resp.status} {code}")

    def refund(self, out_trade_no: str, out_refund_no: str, amount_fen: int, total_fen: int) -> RefundResult:
        """Refund keyed by out_refund_no."""
        resp = self._call("POST", "/v3/refund/domestic/refunds", {
            "out_trade_no": out_trade_no, "out_refund_no": out_refund_no,
            "amount": {"refund": amount_fen, "total": total_fen, "currency": "CNY"}})
        doc = resp.json() or {}
        if resp.status == 200:
            return RefundResult(True, str(doc.get("refund_id", "")))
        return RefundResult(False, reason=str(doc.get("message", "")))


class AlipayAdapter:
    """Alipay open API (wap pay): RSA2 over sorted params; notifications answered with ``success``."""

    name = "alipay"
    STATES = {"TRADE_SUCCESS": ProviderStatus.PAID, "TRADE_FINISHED": ProviderStatus.PAID,
              "WAIT_BUYER_PAY": ProviderStatus.PAYING, "TRADE_CLOSED": ProviderStatus.CLOSED}

    def __init__(self, transport: Transport, *, gateway_url: str, app_id: str, app_private_key: str,
                 alipay_public_key: str) -> None:
        self.transport, self.gateway_url, self.app_id = transport, gateway_url, app_id
        self._key, self._platform = load_private(app_private_key), load_public(alipay_public_key)

    def _params(self, method: str, biz: Mapping[str, object], **extra: str) -> dict[str, str]:
        params = {"app_id": self.app_id, "method": method, "format": "JSON", "charset": "utf-8",
                  "sign_type": "RSA2", "timestamp": datetime.now(BEIJING).strftime(BEIJING_FMT), "version": "1.0",
                  "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")), **extra}
        params["sign"] = rsa_sign(self._key, sign_string(params, ("sign",)))
        return params

    def _call(self, method: str, biz: Mapping[str, object]) -> dict[str, object]:
        resp = self.transport.request("POST", self.gateway_url, body=urlencode(self._params(method, biz)).encode(),
                                      headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        text = resp.body.decode()
        key = '"' + method.replace(".", "_") + '_response":'
        start, end = text.find(key), text.rfind(',"sign":"')
        if resp.status != 200 or start < 0 or end < 0:
            raise PaymentError(f"alipay {method} {resp.status}")
        inner = text[start + len(key):end]
        sig = text[end + len(',"sign":"'):].rstrip('}').rstrip('"')
        rsa_verify(self._platform, inner, sig)
        return json.loads(inner)

    def create(self, order: OrderRequest) -> CreateResult:
        """No call: the buyer's browser takes the signed wap.pay request to the gateway."""
        params = self._params("alipay.trade.wap.pay", {
            "out_trade_no": order.out_trade_no, "total_amount": f"{Decimal(order.amount_fen) / 100:.2f}",
            "subject": order.description, "product_code": "QUICK_WAP_WAY",
            "time_expire": _beijing(order.expire_at).strftime(BEIJING_FMT)},
            notify_url=order.notify_url, return_url=order.return_url)
        return CreateResult(cashier_url=f"{self.gateway_url}?{urlencode(params)}")

    def verify_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """Verify the form's RSA2 signature (without sign and sign_type) and parse it."""
        params = dict(parse_qsl(body.decode(), keep_blank_values=True))
        rsa_verify(self._platform, sign_string(params, ("sign", "sign_type")), params.get("sign", ""))
        if params.get("app_id") != self.app_id:
            raise SignatureError("notification for another app_id")
        return Notification(
            out_trade_no=params.get("out_trade_no", ""),
            status=self.STATES.get(params.get("trade_status", ""), ProviderStatus.PAYING),
            amount_fen=int(Decimal(params["total_amount"]) * 100) if params.get("total_amount") else None,
            provider_txn_id=params.get("trade_no", ""),
            paid_at=_parse_bj(params.get("gmt_payment")))

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
        return QueryResult(self.STATES.get(str(r.get("trade_status")), ProviderStatus.PAYING),
                           int(Decimal(str(r["total_amount"])) * 100) if r.get("total_amount") else None,
                           str(r.get("trade_no", "")), _parse_bj(str(r.get("send_pay_date") or "")))

    def close(self, out_trade_no: str) -> QueryResult:
        """alipay.trade.close; a paid trade cannot close, so report PAID after a query."""
        r = self._call("alipay.trade.close", {"out_trade_no": out_trade_no})
        if r.get("code") == "10000" or r.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
            return QueryResult(ProviderStatus.CLOSED)
        if r.get("sub_code") == "ACQ.TRADE_STATUS_ERROR":
            q = self.query(out_trade_no)
            if q.status is ProviderStatus.PAID:
                return q
            return QueryResult(ProviderStatus.CLOSED)
        raise PaymentError(f"alipay close {r.get('sub_code')}")

    def refund(self, out_trade_no: str, out_refund_no: str, amount_fen: int, total_fen: int) -> RefundResult:
        """alipay.trade.refund keyed by out_request_no."""
        r = self._call("alipay.trade.refund", {"out_trade_no": out_trade_no, "out_request_no": out_refund_no,
                                               "refund_amount": f"{Decimal(amount_fen) / 100:.2f}"})
        return RefundResult(r.get("code") == "10000", str(r.get("trade_no", "")), str(r.get("sub_code", "")))


class UnionPayAdapter:
    """UnionPay online gateway 5.1.0: signed forms both ways; the back notification wants HTTP 200."""

    name = "unionpay"

    def __init__(self, transport: Transport, *, base_url: str, mer_id: str, sign_key: str, verify_key: str) -> None:
        self.transport, self.base_url, self.mer_id = transport, base_url.rstrip("/"), mer_id
        self._key, self._platform = load_private(sign_key), load_public(verify_key)
        self._txn_time: dict[str, str] = {}

    def _sign(self, params: dict[str, str]) -> dict[str, str]:
        params = {"version": "5.1.0", "encoding": "UTF-8", "signMethod": "01", "merId": self.mer_id,
                  "accessType": "0", **params}
        params["signature"] = rsa_sign(self._key, sign_string(params, ("signature",)))
        return params

    def _verify(self, params: Mapping[str, str]) -> None:
        rsa_verify(self._platform, sign_string(params, ("signature",)), params.get("signature", ""))

    def _call(self, path: str, params: dict[str, str]) -> dict[str, str]:
        resp = self.transport.request("POST", self.base_url + path, body=urlencode(self._sign(params)).encode(),
                                      headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        if resp.status != 200:
            raise PaymentError(f"unionpay {path} {resp.status}")
        doc = dict(parse_qsl(resp.body.decode(), keep_blank_values=True))
        self._verify(doc)
        return doc

    @staticmethod
    def txn_time(out_trade_no: str) -> str:
        """Our order numbers start with SB + UTC time; UnionPay wants Beijing yyyyMMddHHmmss."""
        m = re.match(r"SB(\d{14})", out_trade_no)
        if not m:
            return datetime.now(BEIJING).strftime("%Y%m%d%H%M%S")
        utc = datetime.strptime(m.group(1), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        return _beijing(utc).strftime("%Y%m%d%H%M%S")

    def create(self, order: OrderRequest) -> CreateResult:
        """The front transaction is a signed form the buyer's browser takes to the gateway."""
        params = self._sign({"txnType": "01", "txnSubType": "01", "bizType": "000201", "channelType": "08",
                             "orderId": order.out_trade_no, "txnTime": self.txn_time(order.out_trade_no),
                             "txnAmt": str(order.amount_fen), "currencyCode": "156",
                             "frontUrl": order.return_url, "backUrl": order.notify_url,
                             "payTimeout": _beijing(order.expire_at).strftime("%Y%m%d%H%M%S")})
        return CreateResult(cashier_url=f"{self.base_url}/gateway/api/frontTransReq.do?{urlencode(params)}")

    def verify_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """Verify the back notification's signature; respCode 00 means paid."""
        params = dict(parse_qsl(body.decode(), keep_blank_values=True))
        self._verify(params)
        paid = params.get("respCode") == "00"
        return Notification(out_trade_no=params.get("orderId", ""),
                            status=ProviderStatus.PAID if paid else ProviderStatus.FAILED,
                            amount_fen=int(params["txnAmt"]) if params.get("txnAmt", "").isdigit() else None,
                            provider_txn_id=params.get("queryId", ""), reason=params.get("respMsg", ""))

    def ack(self, ok: bool) -> AckResponse:
        """HTTP 200 stops the retries."""
        return AckResponse(200 if ok else 400, b"ok" if ok else b"fail")

    def _status(self, doc: Mapping[str, str]) -> QueryResult:
        if doc.get("respCode") == "34":
            return QueryResult(ProviderStatus.NOT_FOUND)
        if doc.get("respCode") != "00":
            raise PaymentError(f"unionpay respCode {doc.get('respCode')}")
        orig = doc.get("origRespCode", "")
        if orig == "00":
            return QueryResult(ProviderStatus.PAID, int(doc["txnAmt"]) if doc.get("txnAmt", "").isdigit() else None,
                               doc.get("queryId", ""))
        if orig in ("03", "04", "05"):
            return QueryResult(ProviderStatus.PAYING)
        if orig == "34":
            return QueryResult(ProviderStatus.CLOSED)
        return QueryResult(ProviderStatus.FAILED, reason=doc.get("origRespMsg", ""))

    def query(self, out_trade_no: str) -> QueryResult:
        """txnType 00: origRespCode tells the result."""
        return self._status(self._call("/gateway/api/queryTrans.do", {
            "txnType": "00", "txnSubType": "00", "bizType": "000000", "orderId": out_trade_no,
            "txnTime": self.txn_time(out_trade_no)}))

    def close(self, out_trade_no: str) -> QueryResult:
        """End the order's payability; reports PAID if the card holder paid first."""
        return self._status(self._call("/gateway/api/closeOrder.do", {
            "orderId": out_trade_no, "txnTime": self.txn_time(out_trade_no)}))

    def refund(self, out_trade_no: str, out_refund_no: str, amount_fen: int, total_fen: int) -> RefundResult:
        """txnType 04 against the original queryId."""
        q = self.query(out_trade_no)
        doc = self._call("/gateway/api/backTransReq.do", {
            "txnType": "04", "txnSubType": "00", "bizType": "000201", "channelType": "08",
            "orderId": re.sub(r"[^0-9A-Za-z]", "", out_refund_no)[:40],
            "origQryId": q.provider_txn_id, "txnTime": datetime.now(BEIJING).strftime("%Y%m%d%H%M%S"),
            "txnAmt": str(amount_fen)})
        return RefundResult(doc.get("respCode") == "00", doc.get("queryId", ""), doc.get("respMsg", ""))


def _parse_bj(text: str | None) -> datetime | None:
    if not text:
        return None

    return datetime.strptime(text, BEIJING_FMT).replace(tzinfo=BEIJING)
