"""``/v1/billing``: the tenant's billing account, its spend cap (``PATCH``) and per-key
quotas (``PUT /v1/billing/quotas``); reading needs ``read``, changing needs ``admin``.

A change takes effect on the next billable request: the services drop the
cached limits of billing.spend.enforcement when they commit.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from billing import selectors, services
from billing.api.serializers import (
    BillingAccountOutput,
    KeyQuotaInput,
    KeyQuotaListOutput,
    SpendCapInput,
)
from core.api.views import TenantAPIView
from tenants.roles import Scope
from tenants.selectors import api_key_get


class BillingAccountView(TenantAPIView):
    required_scopes = {"GET": Scope.READ, "PATCH": Scope.ADMIN}
    parser_classes = [JSONParser]  # null (back to the plan's cap) has no form encoding

    @extend_schema(operation_id="billing_retrieve", responses=BillingAccountOutput)
    def get(self, request):
        overview = selectors.billing_overview_get(self.tenant, now=timezone.now())
        return Response(BillingAccountOutput(overview).data)

    @extend_schema(
        operation_id="billing_update", request=SpendCapInput, responses=BillingAccountOutput
    )
    def patch(self, request):
        data = SpendCapInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        if "spend_cap" in data.validated_data:  # absent: left as it is
            services.spend_cap_set(
                self.tenant, actor=self.principal, cap_minor=data.validated_data["spend_cap"]
            )
        overview = selectors.billing_overview_get(self.tenant, now=timezone.now())
        return Response(BillingAccountOutput(overview).data)


class KeyQuotaView(TenantAPIView):
    required_scopes = {"PUT": Scope.ADMIN}
    error_statuses = {"PUT": (404,)}  # the key named in the body
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="billing_quotas_update", request=KeyQuotaInput, responses=KeyQuotaListOutput
    )
    def put(self, request):
        data = KeyQuotaInput(data=request.data)
        data.is_valid(raise_exception=True)
        # Resolved inside the tenant: another tenant's key is "no such key", like a typo.
        key = api_key_get(self.tenant, public_id=data.validated_data["api_key"], param="api_key")
        services.key_quota_set(
            self.tenant,
            actor=self.principal,
            api_key_ref=key.public_id,
            meter=data.validated_data["meter"],
            monthly_limit=data.validated_data["monthly_limit"],
        )
        uses = selectors.key_quota_use_list(self.tenant, now=timezone.now())
        return Response(KeyQuotaListOutput(uses).data)
