"""``POST /v1/stripe/webhook``: Stripe's calls, authenticated by signature, not by API key.

No tenant is known at receipt, so this is not a TenantAPIView: it has no
authentication and parses nothing, and reads the raw body so the signature is
checked on the exact bytes Stripe signed.  It only stores the event
(billing.stripe.webhooks); processing happens in a Celery task.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.stripe.signature import WebhookSignatureError
from billing.stripe.webhooks import stripe_event_receive
from core.api.schema import ERRORS
from core.errors import InvalidRequest


class WebhookReceiptOutput(serializers.Serializer):
    """Renders a stored StripeEvent; ``context["new"]``: whether this delivery stored it."""

    received = serializers.SerializerMethodField()
    id = serializers.CharField(source="event_id", help_text="Stripe's event id.")
    duplicate = serializers.SerializerMethodField(help_text="The event was stored before.")

    def get_received(self, event) -> bool:
        return True

    def get_duplicate(self, event) -> bool:
        return not self.context["new"]


class StripeWebhook(APIView):
    authentication_classes = ()
    permission_classes = ()
    parser_classes = ()  # the signature covers the raw bytes: nothing may parse them first

    @extend_schema(
        operation_id="stripe_webhook",
        tags=["stripe"],
        summary="Stripe's event deliveries",
        description="Called by Stripe, not by API clients: authenticated by the "
        "`Stripe-Signature` header over the raw body, not by an API key. Events are stored "
        "once (a redelivery answers `duplicate: true`) and processed in the background.",
        auth=[],
        parameters=[
            OpenApiParameter("Stripe-Signature", str, OpenApiParameter.HEADER, required=True)
        ],
        request={"application/json": {"type": "object", "description": "A Stripe event."}},
        responses={
            200: OpenApiResponse(WebhookReceiptOutput, description="Stored (or already stored)."),
            400: ERRORS["400"],
        },
    )
    def post(self, request):
        signature = request.headers.get("Stripe-Signature")
        try:
            row, new = stripe_event_receive(request.body, signature)
        except WebhookSignatureError as error:
            raise InvalidRequest(str(error), code="invalid_signature") from None
        return Response(WebhookReceiptOutput(row, context={"new": new}).data)
