"""Storing a round that mixes tenants: one round trip, each tenant's rows under
its own row-level-security settings."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import UsageEvent
from inference.models import Prediction
from inference.runtime.metering import record_outcomes

SUCCEEDED = {"status": "succeeded", "results": [{"label": "cat", "score": 0.9, "top_k": []}]}
FAILED = {"status": "failed", "error": {"code": "model_unavailable", "message": "gone"}}


def _payload(handle, prediction_id, images=1):
    return {
        "tenant_id": handle.tenant.pk,
        "prediction_id": prediction_id,
        "mode": "sync",
        "model": {"id": "mdl_test"},
        "top_k": 1,
        "meter": "images_base",
        "api_key_ref": handle.key.public_id,
        "shape": [images, 8, 8, 3],
        "attempt": 0,
    }


def test_a_mixed_round_stores_each_tenants_rows_as_that_tenant(tenant_a, tenant_b):
    outcomes = [
        (_payload(tenant_a, "pred_a1", 2), SUCCEEDED),
        (_payload(tenant_b, "pred_b1", 1), SUCCEEDED),
        (_payload(tenant_a, "pred_a2", 1), FAILED),
    ]
    with CaptureQueriesContext(connection) as queries:
        record_outcomes(outcomes)
    assert len([q for q in queries if "INSERT" in q["sql"]]) == 1  # one round trip
    with tenant_a.context():
        assert dict(Prediction.objects.values_list("public_id", "status")) == {
            "pred_a1": "succeeded",
            "pred_a2": "failed",
        }
        assert list(UsageEvent.objects.values_list("quantity", flat=True)) == [2]
    with tenant_b.context():
        assert list(Prediction.objects.values_list("public_id", flat=True)) == ["pred_b1"]
        assert list(UsageEvent.objects.values_list("quantity", flat=True)) == [1]

    record_outcomes(outcomes)  # served again: rows rewritten, nothing billed twice
    with tenant_a.context():
        assert UsageEvent.objects.count() == 1
