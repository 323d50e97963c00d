"""UnionPay online gateway 5.1.0, the merchant's side: signed forms both ways (signMethod 01: RSA-SHA256
over the SHA-256 hex digest of the sorted ``k=v&…`` string). Our requests name our key by ``certId``;
UnionPay's messages carry its signing key (``signPubKeyCert``), which must be the one we were given.
The back notification wants HTTP 200.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
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
from .crypto import LazyPrivateKey, key_serial, load_public, public_pem, unionpay_sign, unionpay_verify
from .transport import Transport

VERSION = "5.1.0"
TIME_FMT = "%Y%m%d%H%M%S"


AMOUNT = re.compile(r"[1-9][0-9]{0,11}")
#: 5.1.0's "processing" answers: the result is not known yet, ask again.
PENDING = ("03", "04", "05")


def fen(text: str | None) -> int | None:
    """``txnAmt``: fen as ASCII digits, nothing else; None when absent, ``PaymentError`` when malformed."""
    if text is None or text == "":
        return None
    if not AMOUNT.fullmatch(text):
        raise PaymentError(f"txnAmt is not a whole number of fen: {text[:40]!r}")
    return int(text)


class UnionPayAdapter:
    """UnionPay online gateway 5.1.0 over HTTP."""

    name = "unionpay"

    def __init__(
        self,
        transport: Transport,
        *,
        base_url: str,
        mer_id: str,
        sign_key: str,
        sign_public_key: str,
        verify_key: str,
        now: Now,
    ) -> None:
        self.transport, self.base_url, self.mer_id = transport, base_url.rstrip("/"), mer_id
        self._key = LazyPrivateKey(sign_key)
        self.cert_id = str(key_serial(load_public(sign_public_key)))
        self._platform = load_public(verify_key)
        self._platform_pem = public_pem(self._platform).strip()
        self._now = now

    def _sign(self, params: dict[str, str]) -> dict[str, str]:
        params = {
            "version": VERSION,
            "encoding": "UTF-8",
            "signMethod": "01",
            "merId": self.mer_id,
            "accessType": "0",
            "certId": self.cert_id,
            **params,
        }
        params["signature"] = unionpay_sign(self._key, params)
        return params

    def _verify(self, params: Mapping[str, str]) -> None:
        """UnionPay's own key, pinned: the message's signPubKeyCert must be the key we configured."""
        if params.get("signPubKeyCert", "").strip() != self._platform_pem:
            raise SignatureError("signPubKeyCert is not UnionPay's signing key")
        unionpay_verify(self._platform, params)

    def _call(self, path: str, params: dict[str, str]) -> dict[str, str]:
        resp = self.transport.request(
            "POST",
            self.base_url + path,
            body=urlencode(self._sign(params)).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
        if resp.status != 200:
            raise PaymentError(f"unionpay {path} {resp.status}")
        try:
            doc = dict(parse_qsl(resp.body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError as e:
            raise PaymentError(f"unionpay {path}: not UTF-8") from e
        self._verify(doc)
        return doc

    @staticmethod
    def txn_time(out_trade_no: str) -> str:
        """Our order numbers start with SB + UTC time; UnionPay wants Beijing yyyyMMddHHmmss."""
        m = re.match(r"SB(\d{14})", out_trade_no)
        if not m:
            return datetime.now(BEIJING).strftime(TIME_FMT)
        utc = datetime.strptime(m.group(1), TIME_FMT).replace(tzinfo=UTC)
        return utc.astimezone(BEIJING).strftime(TIME_FMT)

    def create(self, order: OrderRequest) -> CreateResult:
        """The front transaction is a signed form the buyer's browser takes to the gateway."""
        params = self._sign(
            {
                "txnType": "01",
                "txnSubType": "01",
                "bizType": "000201",
                "channelType": "08",
                "orderId": order.out_trade_no,
                "txnTime": self.txn_time(order.out_trade_no),
                "txnAmt": str(order.amount_fen),
                "currencyCode": "156",
                "frontUrl": order.return_url,
                "backUrl": order.notify_url,
                "payTimeout": order.expire_at.astimezone(BEIJING).strftime(TIME_FMT),
            }
        )
        return CreateResult(cashier_url=f"{self.base_url}/gateway/api/frontTransReq.do?{urlencode(params)}")

    def verify_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """Verify the back notification's signature and key; respCode 00 means paid."""
        try:
            params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError as e:
            raise SignatureError("body is not UTF-8") from e
        self._verify(params)
        if params.get("merId") != self.mer_id:
            raise SignatureError("notification for another merchant")
        paid = params.get("respCode") == "00"
        amount = fen(params.get("txnAmt"))
        if paid and amount is None:
            raise PaymentError("a paid transaction without txnAmt")
        return Notification(
            out_trade_no=params.get("orderId", ""),
            status=ProviderStatus.PAID if paid else ProviderStatus.FAILED,
            amount_fen=amount,
            provider_txn_id=params.get("queryId", ""),
            reason=params.get("respMsg", ""),
        )

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
            amount = fen(doc.get("txnAmt"))
            if amount is None:
                raise PaymentError("a paid transaction without txnAmt")
            return QueryResult(ProviderStatus.PAID, amount, doc.get("queryId", ""))
        if orig in PENDING:
            return QueryResult(ProviderStatus.PAYING)
        if orig == "34":
            return QueryResult(ProviderStatus.CLOSED)
        return QueryResult(ProviderStatus.FAILED, reason=doc.get("origRespMsg", ""))

    def query(self, out_trade_no: str) -> QueryResult:
        """txnType 00: origRespCode tells the result."""
        return self._status(
            self._call(
                "/gateway/api/queryTrans.do",
                {
                    "txnType": "00",
                    "txnSubType": "00",
                    "bizType": "000000",
                    "orderId": out_trade_no,
                    "txnTime": self.txn_time(out_trade_no),
                },
            )
        )

    def close(self, out_trade_no: str) -> QueryResult:
        """End the order's payability; reports PAID if the card holder paid first."""
        return self._status(
            self._call("/gateway/api/closeOrder.do", {"orderId": out_trade_no, "txnTime": self.txn_time(out_trade_no)})
        )

    def _refund_ids(self, request: RefundRequest) -> dict[str, str]:
        """A refund is a transaction of its own, named by orderId + txnTime: both fixed when it was recorded,
        so a resend or a query names the same one."""
        when = request.requested_at or self._now()
        return {
            "orderId": re.sub(r"[^0-9A-Za-z]", "", request.out_refund_no)[:40],
            "txnTime": when.astimezone(BEIJING).strftime(TIME_FMT),
        }

    def refund(self, request: RefundRequest) -> RefundResult:
        """txnType 04 (退货) against the original queryId; respCode 00 means accepted, the result comes later."""
        orig = request.provider_txn_id or self.query(request.out_trade_no).provider_txn_id
        doc = self._call(
            "/gateway/api/backTransReq.do",
            {
                "txnType": "04",
                "txnSubType": "00",
                "bizType": "000201",
                "channelType": "08",
                "origQryId": orig,
                "txnAmt": str(request.amount_fen),
                **self._refund_ids(request),
            },
        )
        code = doc.get("respCode", "")
        if code in ("00", "12", *PENDING):  # 12: the same orderId + txnTime sent before (重复交易): ask its result
            return RefundResult(RefundStatus.PROCESSING, doc.get("queryId", ""))
        return RefundResult(RefundStatus.REFUSED, reason=f"{code} {doc.get('respMsg', '')}".strip())

    def refund_status(self, request: RefundRequest) -> RefundResult:
        """The refund's own transaction, queried (txnType 00): origRespCode 00 is done, 03/04/05 under way."""
        doc = self._call(
            "/gateway/api/queryTrans.do",
            {"txnType": "00", "txnSubType": "00", "bizType": "000000", **self._refund_ids(request)},
        )
        if doc.get("respCode") == "34":
            return RefundResult(RefundStatus.NOT_FOUND)
        if doc.get("respCode") != "00":
            raise PaymentError(f"unionpay refund query respCode {doc.get('respCode')}")
        orig = doc.get("origRespCode", "")
        if orig == "00":
            return RefundResult(RefundStatus.SUCCEEDED, doc.get("queryId", ""), refunded_at=self._now())
        if orig in PENDING:
            return RefundResult(RefundStatus.PROCESSING, doc.get("queryId", ""))
        return RefundResult(RefundStatus.REFUSED, doc.get("queryId", ""), f"{orig} {doc.get('origRespMsg', '')}")
