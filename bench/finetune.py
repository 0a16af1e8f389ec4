"""Fine-tuning through the real job path on scikit-learn's digits, against baselines.

    .venv/bin/python bench/finetune.py [--quick]

The digits (8x8, upscaled to the base model's 64x64 RGB) are zipped in the
dataset layout (``train/<digit>/`` and ``test/<digit>/``, the fixed 75/25
stratified split of bench/ml_common.py) and uploaded as a tenant's dataset.
Every fine-tune runs through the same code as the training worker: dataset
upload and validation services, ``fine_tune_create``, then the
``training.run_fine_tune`` task body in this process (no broker).  Printed,
each with its ratio to its reference:

(a) held-out accuracy of the fine-tuned private model (all hyperparameters
    "auto") — reference: the best classical baseline (d);
(b) the same architecture trained from scratch for the same seconds;
(c) fine-tunes at 5, 10 and 50 training images per class, each against
    from-scratch training at the same size and budget;
(d) LogisticRegression and RBF SVC on the raw 8x8 pixels, same split;
and the steady-state training images/s of a job (unfrozen phase) against a
plain ``model.fit`` of the same model on the same data in this run.

It uses its own database (``modelhouse_bench``, recreated) and media folder.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings.test")
os.environ.setdefault("MODELHOUSE_DB_NAME", "modelhouse_bench")
os.environ.setdefault("MODELHOUSE_REDIS_DB_OFFSET", "12")
os.environ.setdefault("MODELHOUSE_MEDIA_ROOT", "var/bench-media")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from bench.ml_common import digits_images  # noqa: E402

SIZE = 64
THROUGHPUT_EPOCHS = 8


def _setup_django() -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from saas import config
    from saas.database_setup import ensure_roles_and_database

    plan = config.database_plan()
    if plan.admin is not None:
        ensure_roles_and_database(plan, recreate=True)
    call_command("migrate", database="owner", interactive=False, verbosity=0)
    # Jobs run in this process: hand nothing to a broker.
    settings.TRAINING_MAX_CONCURRENT_JOBS_PER_TENANT = 0


def _split():
    """Fixed 75/25 stratified split (bench/ml_common.digits_split) as index arrays."""
    from sklearn.model_selection import train_test_split

    images, labels = digits_images(SIZE)
    train, test = train_test_split(
        np.arange(len(labels)), test_size=0.25, random_state=0, stratify=labels
    )
    return images, labels, train, test


def _per_class(labels: np.ndarray, rows: np.ndarray, count: int | None) -> np.ndarray:
    if count is None:
        return rows
    rng = np.random.default_rng(0)
    picked = [rng.permutation(rows[labels[rows] == digit])[:count] for digit in range(10)]
    return np.sort(np.concatenate(picked))


def _zip(images, labels, train, test) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for split, rows in (("train", train), ("test", test)):
            for row in rows:
                png = io.BytesIO()
                Image.fromarray(images[row]).save(png, format="PNG")
                archive.writestr(f"{split}/{labels[row]}/{row}.png", png.getvalue())
    return buffer.getvalue()


class JobRunner:
    """One tenant whose datasets and jobs run through the worker's code, in process."""

    def __init__(self) -> None:
        from inference.registry import base_model_register, committed_base_dir_list
        from tenants.services import tenant_create

        self.tenant, self.owner = tenant_create(name="Bench", owner_email="bench@bench.test")
        base_model_register(committed_base_dir_list()[0])

    def run(self, archive: bytes, hyperparameters: dict) -> dict:
        from django.core.files.uploadedfile import SimpleUploadedFile

        from core.context import tenant_context
        from training.models import FineTuneEvent, FineTuneJob
        from training.services.datasets import dataset_create, dataset_validate
        from training.services.fine_tunes import fine_tune_create
        from training.tasks import run_fine_tune

        with tenant_context(self.tenant):
            upload = SimpleUploadedFile("digits.zip", archive)
            dataset = dataset_create(self.tenant, actor=self.owner, upload=upload)
            dataset = dataset_validate(self.tenant, dataset_id=dataset.public_id)
            assert dataset.status == "ready", dataset.error
            job = fine_tune_create(
                self.tenant,
                actor=self.owner,
                dataset_id=dataset.public_id,
                hyperparameters={"max_seconds": 3600, **hyperparameters},
            )
        started = time.perf_counter()
        status = run_fine_tune(self.tenant.pk, job.public_id)  # the task body, in process
        wall = time.perf_counter() - started
        with tenant_context(self.tenant):
            job = FineTuneJob.objects.get(pk=job.pk)
            assert status == "succeeded", job.error
            summary = (
                FineTuneEvent.objects.filter(job=job, message__startswith="Training stopped")
                .values_list("data", flat=True)
                .get()
            )
        return {
            "accuracy": job.evaluation["accuracy"],
            "kind": summary["kind"],
            "train_seconds": summary["seconds"],
            "job_seconds": wall,
            "history": job.history,
            "hyperparameters": job.hyperparameters,
        }


def _scratch(x_train, y_train, x_test, y_test, seconds: float, feature_dim: int) -> float:
    """The base model's architecture, randomly initialised, trained for ``seconds``."""
    import keras

    from ml.architecture import build_backbone, build_classifier
    from ml.evaluation import evaluate

    class Deadline(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.end = time.monotonic() + seconds

        def on_train_batch_end(self, batch, logs=None):
            if time.monotonic() > self.end:
                self.model.stop_training = True

    keras.utils.set_random_seed(0)
    model = build_classifier(build_backbone((SIZE, SIZE, 3), feature_dim), 10)
    model.compile(
        optimizer=keras.optimizers.Adam(0.003),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, batch_size=32, epochs=10_000, callbacks=[Deadline()], verbose=0)
    return evaluate(model, x_test, y_test, [str(d) for d in range(10)])["accuracy"]


def _classical(labels, train, test) -> dict[str, float]:
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    pixels = load_digits().data
    scores = {}
    for name, model in (
        ("LogisticRegression", LogisticRegression(max_iter=5000)),
        ("SVC (RBF)", SVC(kernel="rbf", gamma="scale")),
    ):
        model.fit(pixels[train], labels[train])
        scores[name] = float(model.score(pixels[test], labels[test]))
    return scores


def _steady_images_per_s(times: list[float], images_per_epoch: int) -> float:
    """Throughput over epochs 2..n (the first one traces the graph)."""
    return images_per_epoch * (len(times) - 2) / (times[-1] - times[1])


def _throughput(runner: JobRunner, archive: bytes, x_train, y_train, base) -> tuple[float, float]:
    """Unfrozen-phase images/s: a job against a plain ``fit`` of the same model and data."""
    import keras

    from ml.finetune import FINE_TUNE_LR_FACTOR, build_unfrozen_classifier

    hp = {
        "epochs": 1,
        "unfreeze_layers": 2,
        "finetune_epochs": THROUGHPUT_EPOCHS,
        "augment": False,
        "validation_split": 0,
        "batch_size": 32,
        "patience": 100,
    }
    job = runner.run(archive, hp)
    unfrozen = [row["elapsed_s"] for row in job["history"][1:]]
    job_rate = _steady_images_per_s([0.0, *unfrozen], len(x_train))

    trainer, _ = build_unfrozen_classifier(base.model, 10, 2, "", 0)
    trainer.compile(
        optimizer=keras.optimizers.Adam(0.003 * FINE_TUNE_LR_FACTOR),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    ends: list[float] = []
    clock = keras.callbacks.LambdaCallback(on_epoch_end=lambda *_: ends.append(time.monotonic()))
    start = time.monotonic()
    trainer.fit(
        x_train,
        y_train,
        batch_size=32,
        epochs=THROUGHPUT_EPOCHS,
        callbacks=[clock],
        verbose=0,
        shuffle=True,
    )
    plain_rate = _steady_images_per_s([start, *ends], len(x_train))
    return job_rate, plain_rate


def _line(name: str, value: float, reference: float, unit: str = "") -> None:
    ratio = value / reference if reference else float("nan")
    print(f"  {name:<46} {value:>9.4f}{unit}   ratio {ratio:5.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes, short runs")
    args = parser.parse_args()
    _setup_django()
    from ml.artifacts import load_artifact

    images, labels, train, test = _split()
    runner = JobRunner()
    base = load_artifact(ROOT / "base_models" / "mh-base-v1")
    feature_dim = base.metadata.feature_dim
    classical = _classical(labels, train, test)
    best_classical = max(classical.values())

    extra = {"epochs": 5, "finetune_epochs": 3} if args.quick else {}
    full = runner.run(_zip(images, labels, train, test), extra)
    scratch = _scratch(
        images[train], labels[train], images[test], labels[test], full["train_seconds"], feature_dim
    )
    sizes = [10] if args.quick else [5, 10, 50]
    small = {}
    for count in sizes:
        rows = _per_class(labels, train, count)
        job = runner.run(_zip(images, labels, rows, test), extra)
        small[count] = (
            job,
            _scratch(
                images[rows],
                labels[rows],
                images[test],
                labels[test],
                job["train_seconds"],
                feature_dim,
            ),
        )
    job_rate, plain_rate = _throughput(
        runner, _zip(images, labels, train, test), images[train], labels[train], base
    )

    print(
        f"\nDigits: {len(train)} train / {len(test)} held-out images, base mh-base-v1, "
        f"CPU, {'quick' if args.quick else 'full'} run"
    )
    print(
        f"(a) fine-tuned through the job path ({full['kind']}, "
        f"{full['train_seconds']:.1f} s training, {full['job_seconds']:.1f} s job), "
        "reference: best classical"
    )
    _line("held-out accuracy, fine-tuned", full["accuracy"], best_classical)
    print("(b) same architecture from scratch, same seconds, reference: fine-tuned")
    _line("held-out accuracy, from scratch", scratch, full["accuracy"])
    print("(c) fine-tune at n images per class, reference: from scratch at n, same seconds")
    for count, (job, scratch_small) in small.items():
        _line(
            f"n={count}: fine-tuned ({job['kind']}, {job['train_seconds']:.1f} s)",
            job["accuracy"],
            scratch_small,
        )
        _line(f"n={count}: from scratch", scratch_small, scratch_small)
    print("(d) classical baselines on raw 8x8 pixels, reference: best classical")
    for name, score in classical.items():
        _line(name, score, best_classical)
    print("throughput, unfrozen phase (2 layers, batch 32), reference: plain model.fit")
    _line("job images/s", job_rate, plain_rate)
    _line("plain model.fit images/s", plain_rate, plain_rate)
    print(
        "full-run hyperparameters (auto, resolved):",
        {k: v for k, v in full["hyperparameters"].items() if k != "max_seconds"},
    )


if __name__ == "__main__":
    main()
