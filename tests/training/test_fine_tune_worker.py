"""Fine-tunes through the real workers (default: validation; training: prefork, one child)
on tiny, learnable datasets: the whole lifecycle, budget, cancel, failure, a dying worker."""

import os
import signal

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from billing.models import UsageEvent
from tests.training.helpers import dataset_files, upload, wait_for, zip_bytes
from training.models import Dataset

pytestmark = [pytest.mark.worker, pytest.mark.usefixtures("training_workers")]

FINAL = ("succeeded", "failed", "cancelled")
# A run long enough to act on while it trains: a few backbone epochs on CPU take seconds.
LONG_RUN = {
    "epochs": 1,
    "unfreeze_layers": 2,
    "finetune_epochs": 1000,
    "batch_size": 4,
    "augment": False,
    "validation_split": 0,
}


def _ready_dataset(handle, files) -> str:
    dataset_id = upload(handle, zip_bytes(files)).json()["id"]
    dataset = wait_for(
        lambda: (
            (d := handle.client.get(f"/v1/datasets/{dataset_id}").json())["status"] != "processing"
            and d
        )
    )
    assert dataset["status"] == "ready", dataset
    return dataset_id


def _start(handle, dataset_id, **body) -> dict:
    response = handle.client.post("/v1/fine-tunes", {"dataset": dataset_id, **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _job(handle, job_id) -> dict:
    return handle.client.get(f"/v1/fine-tunes/{job_id}").json()


def _finished(handle, job_id, timeout=120.0) -> dict:
    return wait_for(lambda: (job := _job(handle, job_id))["status"] in FINAL and job, timeout)


def _training_usage(handle) -> list[tuple]:
    with handle.context():
        return list(
            UsageEvent.objects.filter(meter="training_seconds").values_list(
                "quantity", "idempotency_key"
            )
        )


def test_a_job_trains_evaluates_and_publishes_a_private_model_billed_once(live_a, live_base_model):
    dataset_id = _ready_dataset(
        live_a,
        {
            **dataset_files({"red": 8, "green": 8, "blue": 8}, prefix="train/"),
            **dataset_files({"red": 3, "green": 3, "blue": 3}, prefix="test/"),
        },
    )

    created = _start(
        live_a,
        dataset_id,
        suffix="colours",
        hyperparameters={"epochs": 25, "unfreeze_layers": 0, "augment": False, "batch_size": 8},
    )
    assert created["status"] == "queued"
    job = _finished(live_a, created["id"])

    assert job["status"] == "succeeded", job
    assert job["progress"]["epoch"] == job["progress"]["epochs"] == 25
    series = job["metrics"]["series"]
    assert series["epoch"] == list(range(1, 26)) and len(series["loss"]) == 25
    assert series["loss"][-1] < series["loss"][0]
    evaluation = job["metrics"]["evaluation"]
    assert (evaluation["evaluated_on"], evaluation["images"]) == ("test", 9)
    assert evaluation["confusion_matrix"]["labels"] == ["blue", "green", "red"]
    matrix = evaluation["confusion_matrix"]["matrix"]
    assert len(matrix) == 3 and sum(map(sum, matrix)) == 9
    assert [row["label"] for row in evaluation["per_class"]] == ["blue", "green", "red"]
    assert evaluation["accuracy"] == pytest.approx(sum(matrix[i][i] for i in range(3)) / 9)
    assert job["hyperparameters"]["learning_rate"] == 0.003  # "auto", resolved by the worker

    model = live_a.client.get(f"/v1/models/{job['model']}").json()
    assert (model["kind"], model["name"], model["active"]) == ("head", "colours:1", True)
    assert model["labels"] == ["blue", "green", "red"]
    assert model["source"]["dataset"] == dataset_id
    assert model["source"]["hyperparameters"]["epochs"] == 25
    assert model["metrics"]["accuracy"] == evaluation["accuracy"]
    assert live_a.client.post(f"/v1/models/{job['model']}/activate").status_code == 200

    events = live_a.client.get(f"/v1/fine-tunes/{job['id']}/events?limit=100").json()["data"]
    states = [e["data"]["status"] for e in reversed(events) if e["type"] == "state"]
    assert states == ["validating", "queued", "running", "succeeded"]
    assert sum(e["type"] == "metrics" for e in events) == 25
    assert 1 <= job["trained_seconds"] <= job["estimate"]["max_seconds"]
    assert _training_usage(live_a) == [(job["trained_seconds"], f"fine_tune:{job['id']}")]


def test_a_job_stops_at_its_budget_and_bills_no_more_than_it(live_a, live_base_model):
    dataset_id = _ready_dataset(live_a, dataset_files({"red": 6, "blue": 6}))

    job = _finished(
        live_a, _start(live_a, dataset_id, hyperparameters={**LONG_RUN, "max_seconds": 8})["id"]
    )

    assert job["status"] == "succeeded", job
    assert job["metrics"]["evaluation"]["evaluated_on"] == "holdout"
    assert job["trained_seconds"] <= 8
    events = live_a.client.get(f"/v1/fine-tunes/{job['id']}/events?limit=100").json()["data"]
    assert any("time budget (8 s)" in e["message"] and e["level"] == "warning" for e in events)
    assert _training_usage(live_a) == [(job["trained_seconds"], f"fine_tune:{job['id']}")]


def test_a_cancelled_job_stops_and_bills_only_the_time_it_ran(live_a, live_base_model):
    dataset_id = _ready_dataset(live_a, dataset_files({"red": 6, "blue": 6}))
    job_id = _start(live_a, dataset_id, hyperparameters={**LONG_RUN, "max_seconds": 300})["id"]
    wait_for(lambda: _job(live_a, job_id)["progress"].get("epoch", 0) >= 3)

    response = live_a.client.post(f"/v1/fine-tunes/{job_id}/cancel")
    assert response.status_code == 200 and response.json()["cancel_requested"] is True
    job = _finished(live_a, job_id, timeout=15)

    assert job["status"] == "cancelled" and job["model"] is None
    assert job["progress"]["epoch"] < 1001
    assert 1 <= job["trained_seconds"] < 300
    assert _training_usage(live_a) == [(job["trained_seconds"], f"fine_tune:{job_id}")]


def test_a_job_whose_dataset_changed_in_storage_fails_with_the_reason(live_a, live_base_model):
    dataset_id = _ready_dataset(live_a, dataset_files({"red": 6, "blue": 6}))
    with live_a.context():
        key = Dataset.objects.get(public_id=dataset_id).archive_key
    default_storage.delete(key)
    swapped = dataset_files({"blue": 6, "red": 6})  # same names, other colours: other bytes
    default_storage.save(key, ContentFile(zip_bytes(swapped)))

    job = _finished(live_a, _start(live_a, dataset_id)["id"])

    assert job["status"] == "failed" and job["model"] is None
    assert job["error"]["code"] == "archive_changed"
    assert "since the dataset was scanned" in job["error"]["message"]
    assert _training_usage(live_a) == [(job["trained_seconds"], f"fine_tune:{job['id']}")]


def _children(pid: int) -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.append(int(entry))
    return children


def test_a_job_whose_worker_dies_fails_and_never_runs_twice(
    live_a, live_base_model, training_workers
):
    dataset_id = _ready_dataset(live_a, dataset_files({"red": 6, "blue": 6}))
    job_id = _start(live_a, dataset_id, hyperparameters={**LONG_RUN, "max_seconds": 300})["id"]
    wait_for(lambda: _job(live_a, job_id)["progress"].get("epoch", 0) >= 2)

    (child,) = _children(training_workers.pid)
    os.kill(child, signal.SIGKILL)  # the training process dies mid-batch (say, out of memory)
    job = _finished(live_a, job_id, timeout=60)

    assert job["status"] == "failed" and job["error"]["code"] == "worker_lost"
    assert "attempt 1 (its message was delivered again)" in job["error"]["message"]
    assert 1 <= job["trained_seconds"] < 300
    assert _training_usage(live_a) == [(job["trained_seconds"], f"fine_tune:{job_id}")]
