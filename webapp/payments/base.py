"""The one interface every payment provider adapter implements (R-PA-2).

The app side (orders, settlement) only ever talks to a provider through this
interface; the provider itself (real, or the simulation under ``/sim/<name>``)
is a base URL and keys in configuration. Amounts cross this boundary in fen
(integer cents), as every provider wants them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")  # every provider here speaks Beijing time
#: Both parties read the time from the app's clock, so APP_TODAY moves them alike (R-PA-6).
Now = Callable[[], datetime]


class PaymentError(Exception):
    """The provider could not be reached or answered something unusable: the outcome is unknown."""


class ProviderRefused(PaymentError):
    """The provider answered, and said no: nothing was created or taken."""


class SignatureError(PaymentError):
    """A notification or response that is forged, stale or signed with a key we do not know."""


class ProviderStatus(enum.Enum):
    """What a provider says about one of our orders (normalised)."""

    PAID = "paid"  # money taken: settle
    NOT_PAID = "not_paid"  # order exists, buyer has not paid (yet)
    PAYING = "paying"  # "still paying" / USERPAYING: unknown, never failed
    NOT_FOUND = "not_found"  # e.g. Alipay TRADE_NOT_EXIST before the buyer confirms: unknown
    CLOSED = "closed"  # closed or expired: nothing was taken
    FAILED = "failed"  # the payment definitely failed (reason given)
    REFUNDED = "refunded"


@dataclass(frozen=True)
class OrderRequest:
    """What the app asks a provider to collect."""

    out_trade_no: str  # ours; 6-32 [0-9A-Za-z_*-] fits all three providers
    amount_fen: int
    description: str
    expire_at: datetime  # aware datetime
    notify_url: str  # absolute URL of /pay/notify/<provider>
    return_url: str  # absolute URL the cashier sends the buyer back to
    created_at: datetime  # aware; UnionPay's txnTime is derived from it
    agreement_no: str = ""  # 协议支付: the debit agreement to take the money from


@dataclass(frozen=True)
class CreateResult:
    """A created order at the provider and where to send the buyer — or, for a provider that decides at
    once (a bank debit), what it decided."""

    cashier_url: str  # absolute URL of the provider's (simulated) cashier page; "" when there is none
    provider_ref: str = ""  # prepay_id / trade token / tn
    extra: Mapping[str, str] = field(default_factory=dict)  # e.g. signed pay-sheet params
    status: ProviderStatus | None = None  # PAID or FAILED when the provider already decided
    amount_fen: int | None = None
    provider_txn_id: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Notification:
    """A verified, parsed asynchronous notification."""

    out_trade_no: str
    status: ProviderStatus
    amount_fen: int | None
    provider_txn_id: str = ""
    paid_at: datetime | None = None
    reason: str = ""


@dataclass(frozen=True)
class QueryResult:
    """The provider's answer to an order query."""

    status: ProviderStatus
    amount_fen: int | None = None
    provider_txn_id: str = ""
    paid_at: datetime | None = None
    reason: str = ""


@dataclass(frozen=True)
class RefundRequest:
    """Money to give back on a paid order: the amount the provider took (its own answer), keyed once per order."""

    out_trade_no: str
    out_refund_no: str
    amount_fen: int
    total_fen: int  # what the provider took on the order (WeChat checks it against its own record)
    provider_txn_id: str = ""
    requested_at: datetime | None = None  # aware; UnionPay names a transaction by orderId + txnTime


@dataclass(frozen=True)
class AckResponse:
    """What the app answers a provider's notification with, in its own words."""

    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


class RefundStatus(enum.Enum):
    """What a provider says about one of our refunds (normalised)."""

    SUCCEEDED = "succeeded"  # the money is on its way back to the payer for good
    PROCESSING = "processing"  # accepted, not finished: ask again later
    REFUSED = "refused"  # the provider said no (reason given): nothing was refunded by this request
    NOT_FOUND = "not_found"  # the provider has no such refund: it was never received, send it again


@dataclass(frozen=True)
class RefundResult:
    """The provider's answer to a refund request or a refund query."""

    status: RefundStatus
    provider_refund_id: str = ""
    reason: str = ""
    refunded_at: datetime | None = None

    @property
    def accepted(self) -> bool:
        """The provider took the request (done, or on its way)."""
        return self.status in (RefundStatus.SUCCEEDED, RefundStatus.PROCESSING)


class PaymentAdapter(Protocol):
    """One provider, as the app sees it."""

    name: str  # "wechat" | "alipay" | "unionpay"

    def create(self, order: OrderRequest) -> CreateResult:
        """Create the order at the provider; ProviderRefused if it said no, PaymentError if unknown."""

    def verify_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        """Verify the signature, key and freshness, then parse; SignatureError if forged or stale."""

    def ack(self, ok: bool) -> AckResponse:
        """The answer the provider expects (ok=False asks it to retry)."""

    def query(self, out_trade_no: str) -> QueryResult:
        """Ask the provider what happened to an order."""

    def close(self, out_trade_no: str) -> QueryResult:
        """Close an unpaid order. Returns CLOSED, or PAID if it was paid after all."""

    def refund(self, request: RefundRequest) -> RefundResult:
        """Refund (part of) a paid order; keyed by out_refund_no, so repeats are safe."""

    def refund_status(self, request: RefundRequest) -> RefundResult:
        """Ask the provider what became of a refund sent before (NOT_FOUND: it never arrived)."""
