"""``/v1/invoices``: invoices with their lines, the lines as CSV for finance, and the credit
notes on an invoice.  All read-only: credit notes and refunds are decided by the operator's
staff, never through an API key."""

from __future__ import annotations

from modelhouse._calls import Call, as_object, as_text, list_call
from modelhouse.pagination import AsyncPaginator, CursorPage, Page
from modelhouse.resources._base import AsyncResource, SyncResource
from modelhouse.types import CreditNote, Invoice


def _list(limit: int | None, starting_after: str | None) -> Call[Page[Invoice]]:
    return list_call("/v1/invoices", Invoice, limit=limit, starting_after=starting_after)


def _retrieve(invoice: str) -> Call[Invoice]:
    return Call("GET", f"/v1/invoices/{invoice}", as_object(Invoice))


def _lines_csv(invoice: str) -> Call[str]:
    return Call("GET", f"/v1/invoices/{invoice}/lines.csv", as_text)


def _credit_notes(
    invoice: str, limit: int | None, starting_after: str | None
) -> Call[Page[CreditNote]]:
    return list_call(
        f"/v1/invoices/{invoice}/credit-notes",
        CreditNote,
        limit=limit,
        starting_after=starting_after,
    )


class Invoices(SyncResource):
    def list(
        self, *, limit: int | None = None, starting_after: str | None = None
    ) -> CursorPage[Invoice]:
        return self._list(_list(limit, starting_after))

    def retrieve(self, invoice: str) -> Invoice:
        return self._send(_retrieve(invoice))

    def lines_csv(self, invoice: str) -> str:
        """The invoice's lines as CSV text, for finance."""
        return self._send(_lines_csv(invoice))

    def credit_notes(
        self, invoice: str, *, limit: int | None = None, starting_after: str | None = None
    ) -> CursorPage[CreditNote]:
        """The credit notes issued on the invoice, newest first (decided by the operator)."""
        return self._list(_credit_notes(invoice, limit, starting_after))


class AsyncInvoices(AsyncResource):
    """:class:`Invoices`, awaited."""

    def list(
        self, *, limit: int | None = None, starting_after: str | None = None
    ) -> AsyncPaginator[Invoice]:
        return self._list(_list(limit, starting_after))

    async def retrieve(self, invoice: str) -> Invoice:
        return await self._send(_retrieve(invoice))

    async def lines_csv(self, invoice: str) -> str:
        return await self._send(_lines_csv(invoice))

    def credit_notes(
        self, invoice: str, *, limit: int | None = None, starting_after: str | None = None
    ) -> AsyncPaginator[CreditNote]:
        return self._list(_credit_notes(invoice, limit, starting_after))
