"""``/v1/billing``: the billing account, its spend cap and per-key quotas.

Reading needs the ``read`` scope, changing the cap or a quota ``admin``.  A
change applies from the next billable request.  Both writes set an absolute
value, so resending one (as the retries may) changes nothing more.
"""

from __future__ import annotations

from modelhouse.resources._base import Resource
from modelhouse.types import BillingAccount, KeyQuota, Page


class Billing(Resource):
    def retrieve(self) -> BillingAccount:
        """Plan, status, spend cap, key quotas, and this period's amount so far and projected."""
        return self._get("/v1/billing", BillingAccount)

    def set_spend_cap(self, spend_cap: int | None) -> BillingAccount:
        """Cap the period's usage charges at ``spend_cap`` minor units of the account's
        currency; ``None`` goes back to the plan's cap."""
        body = self._client.request_json("PATCH", "/v1/billing", json={"spend_cap": spend_cap})
        return BillingAccount.from_api(body)

    def set_key_quota(self, api_key: str, meter: str, monthly_limit: int | None) -> Page[KeyQuota]:
        """Limit the key ``api_key`` (``key_…``) to ``monthly_limit`` units of ``meter``
        (``images_base``, ``images_finetuned`` or ``training_seconds``) a period;
        ``None`` lifts the quota.  Answers every quota of the organisation."""
        body = self._client.request_json(
            "PUT",
            "/v1/billing/quotas",
            json={"api_key": api_key, "meter": meter, "monthly_limit": monthly_limit},
        )
        return Page([KeyQuota.from_api(item) for item in body["data"]], bool(body["has_more"]))
