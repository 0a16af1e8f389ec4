"""The whole journey against the live app and real workers, as a customer runs it:
the CLI uploads a folder, fine-tunes and predicts; the SDK checks what it did."""

from __future__ import annotations

import json

import pytest
from modelhouse.cli import main

from tests.sdk.helpers import colour_png, write_dataset

pytestmark = [pytest.mark.worker, pytest.mark.usefixtures("workers")]

COUNTS = {"red": 6, "green": 6, "blue": 6}


def _cli(capsys, *argv: str) -> tuple[int, list]:
    """Run ``modelhouse ARGV --json`` in-process; its stdout as parsed JSON lines."""
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    return code, [json.loads(line) for line in out.splitlines() if line.strip()]


def test_from_dataset_folder_to_predictions(
    client, live_server, live_base_model, live_a, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("MODELHOUSE_API_KEY", live_a.secret)
    monkeypatch.setenv("MODELHOUSE_BASE_URL", live_server.url)
    folder = write_dataset(tmp_path / "colours", COUNTS)

    code, [dataset] = _cli(capsys, "datasets", "upload", str(folder))
    assert code == 0 and dataset["status"] == "ready", dataset
    assert sorted(dataset["classes"]) == ["blue", "green", "red"]

    code, lines = _cli(
        capsys,
        "fine-tunes",
        "create",
        "--dataset",
        dataset["id"],
        "--suffix",
        "colours",
        "--epochs",
        "30",
        "--batch-size",
        "8",
        "--learning-rate",
        "0.05",
        "--hyperparameters",
        '{"unfreeze_layers": 0, "augment": false}',
        "--watch",
        "--poll-interval",
        "0.3",
    )
    *events, job = lines
    assert code == 0 and job["status"] == "succeeded", job
    epochs = [e["data"]["epoch"] for e in events if e["type"] == "metrics"]
    assert epochs == sorted(epochs) and len(epochs) >= 2  # streamed once each, in order

    images = {}
    for label in COUNTS:
        images[label] = tmp_path / f"new-{label}.png"
        images[label].write_bytes(colour_png(label, seed=999))
    code, [results] = _cli(
        capsys, "predict", "-m", "colours", str(images["red"]), str(images["blue"])
    )
    assert code == 0
    assert [(r["image"], r["label"]) for r in results] == [
        (str(images["red"]), "red"),
        (str(images["blue"]), "blue"),
    ]
    assert all(r["model"] == job["model"] for r in results)

    queued = client.predictions.create(job["model"], [images["green"]])
    assert queued.status == "queued"
    done = client.predictions.wait(queued.id, timeout=60)
    assert done.status == "succeeded" and done.results[0].label == "green"

    model = client.models.retrieve(job["model"])
    assert (model.name, model.active, sorted(model.labels)) == (
        "colours:1",
        True,
        ["blue", "green", "red"],
    )
    code, [usage] = _cli(capsys, "usage", "--group-by", "meter")
    images_billed = sum(
        row["quantity"]
        for row in usage["data"]
        if "prediction" in row["meter"] or "image" in row["meter"]
    )
    assert code == 0 and images_billed == 3, usage
