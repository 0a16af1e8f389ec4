"""A worker that dies after storing a prediction, before acknowledging its claim:
another worker returns the claim to the lane once the dead one's heartbeat has
expired, serves it again, and bills nothing twice."""

import time

import numpy as np

from billing.models import UsageEvent
from inference import lane
from inference.inputs import PredictInput
from inference.models import Prediction
from inference.selectors import served_model_get
from inference.services import predict_payload
from tenants.authentication import ApiPrincipal
from tests.inference.crashing_worker import CRASH_MARKER
from tests.workers import celery_worker

QUEUE = "inference-crash-test"  # its own lane: no other test worker may claim the entry


def _wait(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_redelivered_prediction_bills_exactly_once(live_a, live_base_model, tmp_path):
    with live_a.context():
        served = served_model_get(live_a.tenant, ref=live_base_model.public_id)
    principal = ApiPrincipal(
        tenant=live_a.tenant,
        api_key_id=live_a.key.pk,
        api_key_public_id=live_a.key.public_id,
        scopes=frozenset(),
    )
    images = np.zeros((3, *served.input_size, 3), dtype=np.uint8)
    payload = predict_payload(
        live_a.tenant,
        principal,
        served,
        PredictInput(images, 3),
        "pred_crashtest000000000000",
        "async",
        "req_crash",
    )
    marker = tmp_path / "crash-once"
    marker.touch()

    with celery_worker(
        QUEUE, app="tests.inference.crashing_worker", env={CRASH_MARKER: str(marker)}
    ) as crashy:
        lane.enqueue(payload, images, queue=QUEUE)
        crashy.wait(timeout=60)  # it stored the prediction, then died before the ack
        claims = lane.claim_key(QUEUE, crashy.node, crashy.pid)
    assert not marker.exists()
    assert lane.redis_client().llen(claims) == 1  # still claimed by the dead worker
    with live_a.context():
        first = Prediction.objects.get(public_id=payload["prediction_id"])
        assert first.status == "succeeded"
        assert UsageEvent.objects.count() == 1

    with celery_worker(QUEUE):

        def reprocessed():
            with live_a.context():
                return Prediction.objects.get(pk=first.pk).completed_at > first.completed_at

        _wait(reprocessed)  # within the heartbeat's time to live plus a reap interval
        _wait(lambda: lane.redis_client().exists(claims) == 0)

    with live_a.context():
        usage = list(UsageEvent.objects.values_list("idempotency_key", "quantity"))
    assert usage == [(f"prediction:{payload['prediction_id']}", 3)]
