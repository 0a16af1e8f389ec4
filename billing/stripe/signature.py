"""Checking that a webhook really comes from Stripe.

Stripe signs ``"<timestamp>.<raw body>"`` with HMAC-SHA256 under the
endpoint's secret and sends ``Stripe-Signature: t=<timestamp>,v1=<hex>[,v1=...]``
(several ``v1`` while Stripe rolls the endpoint's secret). We may hold several
secrets too, while we roll ours: a payload is genuine if any secret matches
any signature and the timestamp is within ``tolerance`` seconds (replay
protection). Verify the raw request bytes, never a re-serialised body.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import stripe

DEFAULT_TOLERANCE_S = 300


class WebhookSignatureError(Exception):
    """The payload is not a genuine, recent Stripe webhook; answer 400 and do nothing."""


def verify_webhook(
    payload: bytes,
    sig_header: str | None,
    secrets: Sequence[str],
    tolerance: int = DEFAULT_TOLERANCE_S,
) -> dict[str, Any]:
    """The event as a plain dict, once the signature is checked against each secret in turn.

    Raises ``WebhookSignatureError`` saying why: no secret configured, no or a
    malformed header, no matching signature, timestamp too old, or a body
    that is not a JSON event.
    """
    usable = [secret for secret in secrets if secret]
    if not usable:
        raise WebhookSignatureError("no webhook signing secret is configured")
    if not sig_header:
        raise WebhookSignatureError("the Stripe-Signature header is missing")
    reasons = []
    for secret in usable:
        try:
            stripe.WebhookSignature.verify_header(payload, sig_header, secret, tolerance)
        except stripe.SignatureVerificationError as error:
            reasons.append(str(error.user_message or error))
            continue
        return _event(payload)
    # A matching but stale signature is the more useful thing to report.
    stale = [reason for reason in reasons if "tolerance" in reason]
    raise WebhookSignatureError(f"webhook rejected: {(stale or reasons)[0]}")


def _event(payload: bytes) -> dict[str, Any]:
    try:
        event = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WebhookSignatureError(f"webhook body is not JSON: {error}") from error
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise WebhookSignatureError("webhook body is not a Stripe event (no id)")
    return event
