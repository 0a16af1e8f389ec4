"""A worker that dies after storing a prediction, before acknowledging it: the
message is redelivered to the next worker, which bills nothing twice."""

import time

import numpy as np

from billing.models import UsageEvent
from inference.inputs import PredictInput
from inference.models import Prediction
from inference.selectors import model_resolve
from inference.services import PREDICT_TASK, predict_payload
from saas.celery import app
from tenants.authentication import ApiPrincipal
from tests.workers import celery_worker

QUEUE = "inference-crash-test"  # its own queue: no other test worker may take the message
# A 2 s visibility timeout needs every task kind to be shorter (training checks it).
SHORT_VISIBILITY = {"CELERY_VISIBILITY_TIMEOUT_S": "2", "TRAINING_MAX_JOB_SECONDS": "1"}


def _wait(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_redelivered_prediction_bills_exactly_once(live_a, live_base_model, tmp_path):
    with live_a.context():
        served = model_resolve(live_a.tenant, model_id=live_base_model.public_id)
    principal = ApiPrincipal(tenant=live_a.tenant, api_key_id=live_a.key.pk,
                             api_key_public_id=live_a.key.public_id, scopes=frozenset())
    images = np.zeros((3, *served.input_size, 3), dtype=np.uint8)
    payload = predict_payload(live_a.tenant, principal, served, PredictInput(images, 3),
                              "pred_crashtest000000000000", "async", "req_crash")
    marker = tmp_path / "crash-once"
    marker.touch()

    with celery_worker(QUEUE, env={**SHORT_VISIBILITY,
                                   "MODELHOUSE_FAULT_CRASH_AFTER_COMMIT": str(marker)}) as crashy:
        app.send_task(PREDICT_TASK, args=[payload], queue=QUEUE)
        crashy.wait(timeout=60)  # it stored the prediction, then died before the ack
    assert not marker.exists()
    with live_a.context():
        first = Prediction.objects.get(public_id=payload["prediction_id"])
        assert first.status == "succeeded"
        assert UsageEvent.objects.count() == 1

    time.sleep(2.5)  # past the visibility timeout: the message is due for redelivery
    with celery_worker(QUEUE, env=SHORT_VISIBILITY):
        def reprocessed():
            with live_a.context():
                return Prediction.objects.get(pk=first.pk).completed_at > first.completed_at
        _wait(reprocessed)

    with live_a.context():
        usage = list(UsageEvent.objects.values_list("idempotency_key", "quantity"))
    assert usage == [(f"prediction:{payload['prediction_id']}", 3)]
