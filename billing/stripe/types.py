"""What the Stripe provider takes and gives: plain frozen dataclasses.

It issues and collects invoices the local ledger has already rated; it never
computes money. Amounts are integers in minor units. Every write is
safe to repeat: the same customer reference, subscription or invoice draft
gives back the same remote object instead of a second one, because the Celery
task that calls a provider may run more than once.

It raises ``ProviderError`` (or its ``PaymentFailedError`` when money could
not be collected) and nothing else, so callers handle one exception type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


class ProviderError(Exception):
    """A provider call failed; ``code`` is the provider's error code when it gave one."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class PaymentFailedError(ProviderError):
    """The invoice could not be collected (card declined, no payment method); it stays open.

    ``code`` says why, in Stripe's words: ``card_declined``, ``no_payment_method``, ...
    """


@dataclass(frozen=True)
class CustomerRef:
    """The tenant a remote customer stands for; ``tenant_public_id`` is the stable key."""

    tenant_public_id: str
    name: str
    email: str


@dataclass(frozen=True)
class SetupIntentResult:
    """What the portal needs to collect a payment method in the browser."""

    id: str
    client_secret: str


@dataclass(frozen=True)
class DraftLine:
    """One invoice line; ``line_id`` is the local line's public id, stable across retries."""

    line_id: str
    description: str
    amount_minor: int


@dataclass(frozen=True)
class InvoiceDraft:
    """A rated invoice to issue; ``invoice_public_id`` is the local invoice's public id."""

    invoice_public_id: str
    customer_id: str
    currency: str
    lines: tuple[DraftLine, ...]
    total_minor: int

    def __post_init__(self) -> None:
        line_sum = sum(line.amount_minor for line in self.lines)
        if line_sum != self.total_minor:
            raise ValueError(
                f"invoice {self.invoice_public_id}: lines add up to {line_sum}, "
                f"not the total {self.total_minor}"
            )
        line_ids = [line.line_id for line in self.lines]
        if len(set(line_ids)) != len(line_ids):
            raise ValueError(f"invoice {self.invoice_public_id}: line ids repeat")


@dataclass(frozen=True)
class IssuedInvoice:
    """The remote invoice a draft became."""

    provider_invoice_id: str
    total_minor: int
    status: str


@dataclass(frozen=True)
class RemoteInvoice:
    """An invoice as the provider holds it, for reconciliation.

    ``status`` uses Stripe's vocabulary: ``draft``, ``open``, ``paid``, ``void``,
    ``uncollectible``.
    """

    id: str
    total_minor: int
    status: str
    currency: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RefundRequest:
    """Give back ``amount_minor`` of a paid remote invoice for one credit note.

    ``credit_note_public_id`` is the stable key: one credit note, one refund.
    """

    credit_note_public_id: str
    invoice_public_id: str
    provider_invoice_id: str
    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if self.amount_minor <= 0:
            raise ValueError(f"credit note {self.credit_note_public_id}: refund must be positive")


@dataclass(frozen=True)
class RemoteRefund:
    """A refund as the provider holds it; ``status`` in Stripe's words (``succeeded``, ...)."""

    id: str
    amount_minor: int
    status: str
    currency: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
