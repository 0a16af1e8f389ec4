"""The Stripe webhook reads nothing large before its signature is checked: a body over
STRIPE_WEBHOOK_MAX_BYTES is 413 from its Content-Length, without being read."""

import io

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from billing.api import webhook
from billing.models import StripeEvent


class CountingStream(io.BytesIO):
    read_bytes = 0

    def read(self, size=-1):
        data = super().read(size)
        self.read_bytes += len(data)
        return data


@pytest.fixture
def not_received(monkeypatch):
    monkeypatch.setattr(
        webhook, "stripe_event_receive", lambda *a: pytest.fail("reached the signature check")
    )


def test_a_body_over_the_limit_is_413_and_stores_nothing(db, not_received):
    payload = b'{"id": "evt_big", "pad": "' + b"x" * 1024 * 1024 + b'"}'
    response = APIClient().post(
        "/v1/stripe/webhook",
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE="t=1,v1=0",
    )
    assert response.status_code == 413, response.content
    assert response.json()["error"]["code"] == "request_too_large"
    assert not StripeEvent.objects.exists()


@override_settings(STRIPE_WEBHOOK_MAX_BYTES=1024)
def test_a_declared_length_over_the_limit_is_refused_before_reading(db, not_received):
    stream = CountingStream(b"x" * 50_000)
    client = APIClient()
    response = client.generic(
        "POST",
        "/v1/stripe/webhook",
        content_type="application/json",
        **{"wsgi.input": stream, "CONTENT_LENGTH": "50000"},
    )
    assert response.status_code == 413
    assert stream.read_bytes == 0


def test_a_small_body_reaches_the_signature_check(db):
    response = APIClient().post(
        "/v1/stripe/webhook",
        b'{"id": "evt_1"}',
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE="t=1,v1=0",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_signature"


def test_options_describes_nothing(db):
    assert APIClient().options("/v1/stripe/webhook").status_code == 405
