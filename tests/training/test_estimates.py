"""Estimates: the web's copy of the "auto" rules matches ml's, and the figures add up."""

import numpy as np
import pytest

from training.estimates import estimate_seconds
from training.hyperparameters import AUTO, NAMES, resolve_for_estimate
from training.splits import SplitPlan, holdout_indices, holdout_size, trained_image_count

SIZES = [(12, 2), (40, 2), (60, 2), (200, 10), (1999, 4), (2400, 3), (30_000, 100)]


@pytest.mark.parametrize(("images", "classes"), SIZES)
def test_the_estimate_resolves_auto_exactly_like_the_trainer(images, classes):
    from ml.finetune import resolve_hyperparameters  # Keras: only this test pays for it

    requested = dict.fromkeys(NAMES, AUTO) | {"seed": 0}
    ours = resolve_for_estimate(requested, images, classes)
    theirs = resolve_hyperparameters(requested, images, classes)

    for name in ("epochs", "finetune_epochs", "batch_size", "validation_split", "unfreeze_layers"):
        assert ours[name] == theirs[name], name


def test_given_values_are_kept():
    hp = resolve_for_estimate(
        {
            "epochs": 3,
            "batch_size": 5,
            "validation_split": 0.0,
            "unfreeze_layers": 1,
            "finetune_epochs": 2,
        },
        100,
        2,
    )

    assert (hp["epochs"], hp["batch_size"], hp["unfreeze_layers"]) == (3, 5, 1)
    assert hp["train_images"] == 100


def test_held_out_images_leave_at_least_one_per_class_to_train_on():
    assert [holdout_size(n, 0.2) for n in (1, 2, 5, 10)] == [0, 0, 1, 2]
    labels = [0] * 5 + [1] * 10

    train, held_out = holdout_indices(np.array(labels), 0.2, seed=3)

    assert len(held_out) == 3 and sorted([*train, *held_out]) == list(range(15))
    counts = {"a": {"train": 5}, "b": {"train": 10, "val": 4}}
    assert trained_image_count(counts, SplitPlan("holdout", None, 0.2)) == 12


def test_unfreezing_the_backbone_costs_more_than_a_head():
    summary = {
        "splits": ["train"],
        "classes": ["a", "b"],
        "counts": {"a": {"train": 100}, "b": {"train": 100}},
        "split_counts": {"train": 200},
    }

    head = estimate_seconds(summary, {"unfreeze_layers": 0})
    full = estimate_seconds(summary, {"unfreeze_layers": 2})

    assert 0 < head < full
