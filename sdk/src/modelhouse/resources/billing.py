"""``/v1/billing``: the billing account, its spend cap and per-key quotas.

Reading needs the ``read`` scope, changing the cap or a quota ``admin``.  A
change applies from the next billable request.  Both writes set an absolute
value, so resending one (as the retries may) changes nothing more.
"""

from __future__ import annotations

from modelhouse._calls import Call, as_object, as_page
from modelhouse.pagination import Page
from modelhouse.resources._base import AsyncResource, SyncResource
from modelhouse.types import BillingAccount, KeyQuota


def _retrieve() -> Call[BillingAccount]:
    return Call("GET", "/v1/billing", as_object(BillingAccount))


def _set_spend_cap(spend_cap: int | None) -> Call[BillingAccount]:
    return Call("PATCH", "/v1/billing", as_object(BillingAccount), json={"spend_cap": spend_cap})


def _set_key_quota(api_key: str, meter: str, monthly_limit: int | None) -> Call[Page[KeyQuota]]:
    body = {"api_key": api_key, "meter": meter, "monthly_limit": monthly_limit}
    return Call("PUT", "/v1/billing/quotas", as_page(KeyQuota), json=body)


class Billing(SyncResource):
    def retrieve(self) -> BillingAccount:
        """Plan, status, spend cap, key quotas, and this period's amount so far and projected."""
        return self._send(_retrieve())

    def set_spend_cap(self, spend_cap: int | None) -> BillingAccount:
        """Cap the period's usage charges at ``spend_cap`` minor units of the account's
        currency; ``None`` goes back to the plan's cap."""
        return self._send(_set_spend_cap(spend_cap))

    def set_key_quota(self, api_key: str, meter: str, monthly_limit: int | None) -> Page[KeyQuota]:
        """Limit the key ``api_key`` (``key_…``) to ``monthly_limit`` units of ``meter``
        (``images_base``, ``images_finetuned`` or ``training_seconds``) a period;
        ``None`` lifts the quota.  Answers every quota of the organisation, in one page."""
        return self._send(_set_key_quota(api_key, meter, monthly_limit))


class AsyncBilling(AsyncResource):
    """:class:`Billing`, awaited."""

    async def retrieve(self) -> BillingAccount:
        return await self._send(_retrieve())

    async def set_spend_cap(self, spend_cap: int | None) -> BillingAccount:
        return await self._send(_set_spend_cap(spend_cap))

    async def set_key_quota(
        self, api_key: str, meter: str, monthly_limit: int | None
    ) -> Page[KeyQuota]:
        return await self._send(_set_key_quota(api_key, meter, monthly_limit))
