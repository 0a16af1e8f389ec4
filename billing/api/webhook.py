"""``POST /v1/stripe/webhook``: Stripe's calls, authenticated by signature, not by API key.

A plain Django view (outside TenantAPIView: no tenant is known at receipt),
exempt from CSRF, reading the raw body so the signature is checked on the
exact bytes Stripe signed.  It only stores the event (billing.webhooks);
processing happens in a Celery task.
"""

from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing.providers.stripe_webhook import WebhookSignatureError
from billing.webhooks import stripe_event_receive
from core.errors import InvalidRequest


@csrf_exempt
@require_POST
def stripe_webhook(request):
    try:
        row, new = stripe_event_receive(request.body, request.headers.get("Stripe-Signature"))
    except WebhookSignatureError as error:
        problem = InvalidRequest(str(error), code="invalid_signature")
        return JsonResponse(problem.body(), status=problem.status)
    return JsonResponse({"received": True, "id": row.event_id, "duplicate": not new})
