"""``/v1/invoices``: invoices with their lines, and the lines as CSV for finance."""

from __future__ import annotations

from collections.abc import Iterator

from modelhouse.resources._base import Resource
from modelhouse.types import Invoice, Page


class Invoices(Resource):
    def list(
        self,
        *,
        limit: int | None = None,
        starting_after: str | None = None,
    ) -> Page[Invoice]:
        return self._page("/v1/invoices", Invoice, limit=limit, starting_after=starting_after)

    def iterate(self) -> Iterator[Invoice]:
        return self._iterate("/v1/invoices", Invoice)

    def retrieve(self, invoice: str) -> Invoice:
        return self._get(f"/v1/invoices/{invoice}", Invoice)

    def lines_csv(self, invoice: str) -> str:
        return self._client.request("GET", f"/v1/invoices/{invoice}/lines.csv").text
