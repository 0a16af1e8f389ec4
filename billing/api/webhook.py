"""``POST /v1/stripe/webhook``: Stripe's calls, authenticated by signature, not by API key.

No tenant is known at receipt, so this is not a TenantAPIView: it has no
authentication and parses nothing, and reads the raw body so the signature is
checked on the exact bytes Stripe signed.  It only stores the event
(billing.stripe.webhooks); processing happens in a Celery task.

Anyone can call it, so nothing large is read before the signature is checked: a
body over ``STRIPE_WEBHOOK_MAX_BYTES`` (1 MiB) is refused with 413 from its
``Content-Length``, and at most one byte more than that is ever read.  Stripe's
events are a few kilobytes (an object's lists are truncated to their first page
and metadata is capped at 50 keys of 500 characters), so 1 MiB leaves wide room
for the largest invoice while costing an anonymous caller 80 times less memory
than Django's general limit.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.stripe.signature import WebhookSignatureError
from billing.stripe.webhooks import stripe_event_receive
from core.api.schema import ERRORS, ErrorOutput
from core.errors import InvalidRequest

MAX_BODY_BYTES = 1024 * 1024


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
    metadata_class = None  # OPTIONS is 405, as on every other /v1/ route

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
            413: OpenApiResponse(
                ErrorOutput,
                description="The body is over the size limit (read no further).",
                examples=[
                    OpenApiExample(
                        "413",
                        value={
                            "error": {
                                "type": "invalid_request_error",
                                "code": "request_too_large",
                                "message": "The body is larger than 1048576 bytes.",
                                "param": None,
                            }
                        },
                        status_codes=["413"],
                    )
                ],
            ),
        },
    )
    def post(self, request):
        signature = request.headers.get("Stripe-Signature")
        payload = _bounded_body(request)
        try:
            row, new = stripe_event_receive(payload, signature)
        except WebhookSignatureError as error:
            raise InvalidRequest(str(error), code="invalid_signature") from None
        return Response(WebhookReceiptOutput(row, context={"new": new}).data)


def _bounded_body(request) -> bytes:
    limit = getattr(settings, "STRIPE_WEBHOOK_MAX_BYTES", MAX_BODY_BYTES)
    too_large = InvalidRequest(
        f"The body is larger than {limit} bytes.", code="request_too_large", status=413
    )
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise too_large
    body = request._request.read(limit + 1)  # the raw bytes, never more than the limit + 1
    if len(body) > limit:
        raise too_large
    return body
