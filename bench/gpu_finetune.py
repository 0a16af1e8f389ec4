"""Fine-tune recipe throughput and accuracy on scikit-learn digits.

    KERAS_BACKEND=jax python bench/gpu_finetune.py           # on a GPU host
    python bench/gpu_finetune.py --quick                      # CPU smoke run

The recipe (head on precomputed features, then the top of the backbone
unfrozen behind augmentation layers) runs on the fixed 75/25 stratified digits
split, upscaled to the base model's input size.  Its steady-state images/s in
the unfrozen phase is printed next to a plain ``model.fit`` of the same
trainer on the same data (same batch size, no callbacks of ours), with the
ratio, and its held-out accuracy.  Self-contained: no Django, database or broker.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ml_common import configure_backend, device_name, digits_split  # noqa: E402


class _EpochClock:
    """Epoch-end timestamps; steady-state throughput skips the first (tracing) epoch."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def tick(self, *_args) -> None:
        self.times.append(time.perf_counter())

    def images_per_second(self, images_per_epoch: int, first: int = 0) -> float:
        times = self.times[first:]
        return images_per_epoch * (len(times) - 1) / (times[-1] - times[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=str(ROOT / "base_models" / "mh-base-v1"))
    parser.add_argument("--epochs", type=int, default=12, help="unfrozen-phase epochs")
    parser.add_argument("--unfreeze", type=int, default=6)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="short CPU smoke run")
    args = parser.parse_args()
    if args.quick:
        args.epochs = 3
    backend = configure_backend()

    import keras

    from ml.artifacts import load_artifact
    from ml.evaluation import evaluate
    from ml.finetune import FineTuneCallbacks, build_unfrozen_classifier, fine_tune

    base = load_artifact(args.base)
    x_train, x_test, y_train, y_test = digits_split(base.metadata.input_shape[0])
    labels = [str(d) for d in range(10)]
    head_epochs = 30
    hp = {
        "epochs": head_epochs,
        "finetune_epochs": args.epochs,
        "batch_size": args.batch,
        "unfreeze_layers": args.unfreeze,
        "augment": "translate,zoom,contrast",
        "validation_split": 0.0,
        "learning_rate": 0.003,
        "seed": 0,
    }

    recipe_clock = _EpochClock()
    started = time.perf_counter()
    result = fine_tune(
        base,
        x_train,
        y_train,
        labels,
        hyperparameters=hp,
        callbacks=FineTuneCallbacks(on_epoch_end=recipe_clock.tick),
    )
    recipe_seconds = time.perf_counter() - started
    recipe_rate = recipe_clock.images_per_second(len(x_train), first=head_epochs)
    accuracy = evaluate(result.model, x_test, y_test, labels)["accuracy"]

    trainer, _ = build_unfrozen_classifier(base.model, 10, args.unfreeze, hp["augment"], 0)
    trainer.compile(
        optimizer=keras.optimizers.Adam(3e-4),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    plain_clock = _EpochClock()
    trainer.fit(
        x_train,
        y_train,
        batch_size=args.batch,
        epochs=args.epochs + 1,
        verbose=0,
        callbacks=[keras.callbacks.LambdaCallback(on_epoch_end=plain_clock.tick)],
    )
    plain_rate = plain_clock.images_per_second(len(x_train))

    print(
        f"backend={backend} device={device_name()} base={base.metadata.name} "
        f"train={len(x_train)} test={len(x_test)} batch={args.batch} "
        f"unfreeze={args.unfreeze} epochs={head_epochs}+{args.epochs}"
    )
    print(f"plain model.fit             {plain_rate:10.0f} images/s  ratio 1.00")
    print(
        f"fine-tune recipe            {recipe_rate:10.0f} images/s  ratio "
        f"{recipe_rate / plain_rate:.2f}"
    )
    print(
        f"recipe wall time {recipe_seconds:.1f}s (head phase included), "
        f"held-out accuracy {accuracy:.4f}, stopped={result.stopped}"
    )


if __name__ == "__main__":
    main()
