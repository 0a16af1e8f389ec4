"""A free tenant floods the API at the edge of its allowance: 32 concurrent asynchronous
predictions and several fine-tunes at once, over real HTTP, served by a real worker.
Every unit of work is reserved before it is queued (billing.spend.enforcement), so the
tenant ends within its allowance, and every refused request was answered 402 having
queued nothing."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.db.models import Sum

from billing.models import UsageEvent
from billing.pricing.price_book import FREE, IMAGES_BASE, TRAINING_SECONDS
from inference.models import Prediction
from tests.billing.helpers import record
from tests.factories import make_tenant
from tests.images import png
from tests.training.helpers import dataset_files, upload, wait_for, zip_bytes
from training.models import FineTuneJob

pytestmark = pytest.mark.usefixtures("inference_worker")

ALLOWANCE = FREE.price_for(IMAGES_BASE).included  # 5,000 images
TRAINING_ALLOWANCE = FREE.price_for(TRAINING_SECONDS).included  # 1,800 s
IMAGES_PER_REQUEST = 64


def test_a_free_tenants_burst_ends_within_its_allowance(live_server, live_base_model):
    free = make_tenant("Freebie", plan="free")
    record(free, IMAGES_BASE, ALLOWANCE - 1_000, live_base_model.created_at)  # 1,000 left
    dataset_id = upload(free, zip_bytes(dataset_files({"red": 3, "blue": 3}))).json()["id"]
    image = base64.b64encode(png(seed=1)).decode()
    body = {"model": live_base_model.public_id, "inputs": [{"image_base64": image}] * 64}
    headers = {"Authorization": f"Bearer {free.secret}"}

    with httpx.Client(base_url=live_server.url, headers=headers, timeout=60) as http:

        def predict(_):
            return http.post("/v1/predictions", json=body)

        def fine_tune(_):
            return http.post(
                "/v1/fine-tunes",
                json={"dataset": dataset_id, "hyperparameters": {"max_seconds": 900}},
            )

        with ThreadPoolExecutor(max_workers=36) as pool:
            predictions = list(pool.map(predict, range(32)))
            jobs = list(pool.map(fine_tune, range(4)))

    admitted = [r.json()["id"] for r in predictions if r.status_code == 202]
    refused = [r for r in predictions + jobs if r.status_code != 202 and r.status_code != 201]
    assert 0 < len(admitted) * IMAGES_PER_REQUEST <= 1_000
    assert all(
        (r.status_code, r.json()["error"]["code"]) == (402, "spend_cap_exceeded") for r in refused
    ), [r.content for r in refused]
    assert sum(r.status_code == 201 for r in jobs) == TRAINING_ALLOWANCE // 900

    with free.context():
        wait_for(lambda: not Prediction.objects.exclude(status="succeeded").exists())
        assert sorted(Prediction.objects.values_list("public_id", flat=True)) == sorted(admitted)
        used = UsageEvent.objects.filter(meter=IMAGES_BASE).aggregate(q=Sum("quantity"))["q"]
        reserved = FineTuneJob.objects.aggregate(s=Sum("max_seconds"))["s"]
    assert used <= ALLOWANCE and reserved <= TRAINING_ALLOWANCE
