import numpy as np
import pytest

from ml.artifacts import load_artifact
from ml.evaluation import evaluate
from ml.finetune import FineTuneCallbacks, fine_tune, resolve_hyperparameters, stratified_split
from ml.serving import ServingEngine

LABELS = ["dark", "bright", "red"]


def _toy_dataset(per_class: int = 20):
    """Three visually obvious classes on 16x16 images, with pixel noise."""
    rng = np.random.default_rng(0)
    colours = np.array([[20, 20, 20], [230, 230, 230], [220, 30, 30]], dtype=np.float32)
    labels = np.repeat(np.arange(3), per_class)
    images = colours[labels][:, None, None, :] + rng.normal(0, 20, (len(labels), 16, 16, 3))
    return np.clip(images, 0, 255).astype(np.uint8), labels


FAST = {
    "epochs": 3,
    "batch_size": 8,
    "augment": False,
    "validation_split": 0.0,
    "unfreeze_layers": 0,
    "learning_rate": 0.05,
}


def test_head_only_fine_tune_reports_progress_and_serves_on_the_shared_backbone(
    tmp_path, base_artifact
):
    x, y = _toy_dataset()
    epochs, progress = [], []
    result = fine_tune(
        base_artifact,
        x,
        y,
        LABELS,
        hyperparameters={**FAST, "epochs": 30},
        callbacks=FineTuneCallbacks(
            on_epoch_end=lambda epoch, metrics: epochs.append((epoch, metrics)),
            on_progress=lambda *args: progress.append(args),
        ),
    )
    assert result.kind == "head" and result.stopped == "completed"
    assert [epoch for epoch, _ in epochs] == list(range(30))
    assert "loss" in epochs[0][1] and "accuracy" in epochs[0][1]
    assert progress[:2] == [(0, 1, 8), (0, 2, 8)] and len(progress) == 30 * 8
    assert evaluate(result.model, x, y, LABELS)["accuracy"] > 0.9

    result.save(tmp_path / "tuned", base_artifact)
    engine = ServingEngine()
    engine.load_base(base_artifact)
    engine.load_head("mdl", load_artifact(tmp_path / "tuned"))
    (served,) = engine.predict([("mdl", x)])
    np.testing.assert_allclose(served, result.model.predict_on_batch(x), atol=1e-5)


def test_unfreezing_trains_a_copy_of_the_top_layers_only(tmp_path, base_artifact):
    x, y = _toy_dataset()
    before = [np.copy(w) for w in base_artifact.model.get_weights()]
    top_before = np.copy(base_artifact.model.get_layer("project_conv").kernel)
    result = fine_tune(
        base_artifact,
        x,
        y,
        LABELS,
        x_val=x[::4],
        y_val=y[::4],
        hyperparameters={
            **FAST,
            "unfreeze_layers": 1,
            "finetune_epochs": 2,
            "augment": "translate,contrast",
        },
    )
    assert result.kind == "full"
    assert len(result.history) >= 3 and "val_loss" in result.history[-1]
    for original, now in zip(before, base_artifact.model.get_weights(), strict=True):
        np.testing.assert_array_equal(original, now)  # the shared base is untouched
    tuned = result.model.get_layer("backbone")
    assert not np.array_equal(tuned.get_layer("project_conv").kernel, top_before)
    np.testing.assert_array_equal(
        tuned.get_layer("s3_1_conv").kernel, base_artifact.model.get_layer("s3_1_conv").kernel
    )
    result.save(tmp_path / "full", base_artifact)
    assert load_artifact(tmp_path / "full").kind == "full"


def test_cancel_lands_within_one_batch(base_artifact):
    x, y = _toy_dataset()
    steps = []
    result = fine_tune(
        base_artifact,
        x,
        y,
        LABELS,
        hyperparameters={**FAST, "epochs": 50},
        callbacks=FineTuneCallbacks(
            on_progress=lambda *a: steps.append(a), should_stop=lambda: len(steps) >= 2
        ),
    )
    assert result.stopped == "cancelled"
    assert len(steps) == 2


def test_time_budget_stops_training(base_artifact):
    x, y = _toy_dataset()
    steps = []
    result = fine_tune(
        base_artifact,
        x,
        y,
        LABELS,
        hyperparameters={**FAST, "epochs": 50, "max_seconds": 0, "unfreeze_layers": 2},
        callbacks=FineTuneCallbacks(on_progress=lambda *a: steps.append(a)),
    )
    assert result.stopped == "budget"
    assert len(steps) == 1 and result.kind == "head"


def test_auto_hyperparameters_follow_the_dataset_size():
    small = resolve_hyperparameters({}, num_images=50, num_classes=10)
    large = resolve_hyperparameters({}, num_images=5000, num_classes=10)
    assert small["validation_split"] == 0.0 and small["unfreeze_layers"] == 0
    assert large["validation_split"] == 0.15 and large["unfreeze_layers"] == 6
    assert (small["batch_size"], large["batch_size"]) == (32, 64)
    assert "flip" not in large["augment"]
    with pytest.raises(ValueError, match="Unknown hyperparameters"):
        resolve_hyperparameters({"epoch": 3}, num_images=50, num_classes=10)


def test_stratified_split_keeps_every_class_in_training():
    labels = np.array([0] * 10 + [1] * 2 + [2])
    train, validation = stratified_split(labels, 0.5, seed=0)
    assert sorted(set(labels[train])) == [0, 1, 2]
    assert np.bincount(labels[validation], minlength=3).tolist() == [5, 1, 0]
    assert sorted([*train, *validation]) == list(range(13))
