"""The bank, the tax bureau's side: signing and revoking debit agreements (缴费协议), and 协议支付 as a
``PaymentAdapter`` whose create is the debit itself, decided at once (R-AG-*, R-PA-2). Batch debits go
as files of many debits (``debit_batch``). Every request is signed with our key, every answer must be
signed by the bank's key and fresh (5 minutes), like the card schemes' own protocols.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .base import (
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
from .crypto import LazyPrivateKey, load_public, nonce, rsa_sign, rsa_verify
from .transport import Transport

FRESH_SECONDS = 300
#: What a failed debit means to the payer (R-BD-3, seed 000 Q44).
REASONS = {
    "51": "余额不足",
    "14": "姓名或账户不一致",
    "62": "账户异常",
    "57": "协议无效或已撤销",
    "94": "银行未按时返回扣款结果，本次未扣款",  # cancelled after its batch day: it never arrived, nothing taken
}


@dataclass(frozen=True)
class SignResult:
    """The bank's answer to an agreement: its number, or why not."""

    ok: bool
    agreement_no: str = ""
    code: str = ""
    message: str = ""


@dataclass(frozen=True)
class DebitResult:
    """The bank's decision on one debit."""

    debit_no: str
    code: str
    message: str
    bank_txn: str = ""
    amount_fen: int | None = None

    @property
    def succeeded(self) -> bool:
        """Money taken."""
        return self.code == "00"

    @property
    def reason(self) -> str:
        """Why not, in the words the payer is shown."""
        return REASONS.get(self.code, self.message)


class BankAdapter:
    """The bank over HTTP: agreements, debits (协议支付, 批量扣款), queries, cancels, credits."""

    name = "agreement"

    def __init__(
        self, transport: Transport, *, base_url: str, merchant_key: str, bank_public_key: str, now: Now
    ) -> None:
        self.transport, self.base_url = transport, base_url.rstrip("/")
        self._key, self._bank = LazyPrivateKey(merchant_key), load_public(bank_public_key)
        self._now = now

    def _call(self, path: str, doc: Mapping[str, object]) -> dict[str, object]:
        body = json.dumps(doc, ensure_ascii=False)
        ts, nc = str(int(self._now().timestamp())), nonce()
        resp = self.transport.request(
            "POST",
            self.base_url + path,
            body=body.encode(),
            headers={
                "Content-Type": "application/json",
                "X-Bank-Timestamp": ts,
                "X-Bank-Nonce": nc,
                "X-Bank-Signature": rsa_sign(self._key, f"{ts}\n{nc}\n{body}\n"),
            },
        )
        if resp.status >= 500:
            raise PaymentError(f"bank {path}: {resp.status}")
        ts = resp.headers.get("X-Bank-Timestamp", "")
        if not (ts.isascii() and ts.isdigit()) or abs(self._now().timestamp() - int(ts)) > FRESH_SECONDS:
            raise SignatureError("bank answer is stale or unsigned")
        try:
            text = resp.body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise SignatureError("bank answer is not UTF-8") from e
        rsa_verify(
            self._bank,
            f"{ts}\n{resp.headers.get('X-Bank-Nonce', '')}\n{text}\n",
            resp.headers.get("X-Bank-Signature", ""),
        )
        doc_out = json.loads(text or "{}")
        if resp.status != 200 or not isinstance(doc_out, dict):
            raise PaymentError(f"bank {path}: {resp.status} {doc_out}")
        return doc_out

    # ------------------------------------------------------------------------------- agreements

    def sign_agreement(
        self, request_no: str, *, bank: str, card_number: str, holder: str, id_number: str
    ) -> SignResult:
        """Ask the bank to sign (keyed by request_no: a retry gives the same agreement)."""
        r = self._call(
            "/agreements",
            {
                "request_no": request_no,
                "bank": bank,
                "card_number": card_number,
                "holder": holder,
                "id_number": id_number,
            },
        )
        return SignResult(
            r.get("code") == "00", str(r.get("agreement_no", "")), str(r.get("code", "")), str(r.get("message", ""))
        )

    def revoke_agreement(self, agreement_no: str) -> bool:
        """Tell the bank the agreement is revoked: it debits nothing on it after this."""
        return self._call(f"/agreements/{agreement_no}/revoke", {}).get("code") == "00"

    # ------------------------------------------------------------------------------- debits

    @staticmethod
    def _debit(r: Mapping[str, object]) -> DebitResult:
        amount = r.get("amount_fen")
        return DebitResult(
            str(r.get("debit_no", "")),
            str(r.get("code", "")),
            str(r.get("message", "")),
            str(r.get("bank_txn", "") or ""),
            amount if isinstance(amount, int) else None,
        )

    def debit(self, debit_no: str, agreement_no: str, amount_fen: int) -> DebitResult:
        """One debit, keyed by debit_no."""
        return self._debit(
            self._call("/debits", {"debit_no": debit_no, "agreement_no": agreement_no, "amount_fen": amount_fen})
        )

    def debit_batch(self, items: Sequence[tuple[str, str, int]]) -> list[DebitResult]:
        """A batch file of (debit_no, agreement_no, amount_fen), decided in order; results in the same order."""
        r = self._call(
            "/debits/batch", {"items": [{"debit_no": d, "agreement_no": a, "amount_fen": f} for d, a, f in items]}
        )
        results = r.get("results")
        if not isinstance(results, list) or len(results) != len(items):
            raise PaymentError("bank batch answer does not match the file")
        return [self._debit(x) for x in results]

    def cancel_debit(self, debit_no: str) -> DebitResult:
        """Cancel a debit the bank has not received (code 94: it can never be taken after this), or learn how the
        bank decided it."""
        return self._debit(self._call(f"/debits/{debit_no}/cancel", {}))

    @staticmethod
    def _status(d: DebitResult) -> QueryResult:
        if d.code == "NOT_FOUND":
            return QueryResult(ProviderStatus.NOT_FOUND)
        if d.code == "94":
            return QueryResult(ProviderStatus.CLOSED)
        if d.succeeded:
            return QueryResult(ProviderStatus.PAID, d.amount_fen, d.bank_txn)
        return QueryResult(ProviderStatus.FAILED, reason=f"银行扣款失败：{d.reason}")

    # ------------------------------------------------------------------------------- as a PaymentAdapter

    def create(self, order: OrderRequest) -> CreateResult:
        """协议支付: debit the agreement now; the answer is the payment's result."""
        if not order.agreement_no:
            raise PaymentError("no agreement chosen")
        q = self._status(self.debit(order.out_trade_no, order.agreement_no, order.amount_fen))
        return CreateResult(
            cashier_url="", status=q.status, amount_fen=q.amount_fen, provider_txn_id=q.provider_txn_id, reason=q.reason
        )

    def verify_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """The bank answers each debit at once; it sends no notifications."""
        raise SignatureError("the bank sends no notifications")

    def ack(self, ok: bool) -> AckResponse:
        """Not used: see verify_notification."""
        return AckResponse(200 if ok else 400, b"")

    def query(self, out_trade_no: str) -> QueryResult:
        """What the bank decided on a debit."""
        return self._status(self._debit(self._call(f"/debits/{out_trade_no}/query", {})))

    def close(self, out_trade_no: str) -> QueryResult:
        """Cancel a debit that has not arrived (it can never be taken after this), or learn its result."""
        return self._status(self.cancel_debit(out_trade_no))

    def refund(self, request: RefundRequest) -> RefundResult:
        """Credit the money back to the account, keyed by the refund number (the bank decides at once)."""
        r = self._call(
            "/credits",
            {"credit_no": request.out_refund_no, "debit_no": request.out_trade_no, "amount_fen": request.amount_fen},
        )
        if r.get("code") == "00":
            return RefundResult(RefundStatus.SUCCEEDED, str(r.get("credit_no", "")), refunded_at=self._now())
        return RefundResult(RefundStatus.REFUSED, reason=str(r.get("message", "")))

    def refund_status(self, request: RefundRequest) -> RefundResult:
        """Whether the bank holds the credit."""
        r = self._call(f"/credits/{request.out_refund_no}/query", {})
        if r.get("code") == "00":
            return RefundResult(RefundStatus.SUCCEEDED, str(r.get("credit_no", "")), refunded_at=self._now())
        return RefundResult(RefundStatus.NOT_FOUND)
