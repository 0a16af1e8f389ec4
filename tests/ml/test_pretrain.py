import json
from pathlib import Path

import numpy as np

from ml import procedural
from ml.artifacts import load_artifact
from ml.pretrain import build_default_base_model

COMMITTED_BASE = Path(__file__).resolve().parents[2] / "base_models" / "mh-base-v1"


def test_procedural_images_are_reproducible_per_index():
    prototypes = procedural.make_prototypes(10, seed=3)
    labels = np.arange(10)
    whole = procedural.render(prototypes, labels, seed=3)
    tail = procedural.render(prototypes, labels[6:], seed=3, start=6)
    assert whole.dtype == np.uint8 and whole.shape == (10, 64, 64, 3)
    np.testing.assert_array_equal(whole[6:], tail)
    assert not np.array_equal(whole, procedural.render(prototypes, labels, seed=4))


def test_quick_pretraining_is_deterministic_and_writes_a_base_artifact(tmp_path):
    first = build_default_base_model(tmp_path / "a", seed=5, quick=True)
    second = build_default_base_model(tmp_path / "b", seed=5, quick=True)
    a, b = load_artifact(tmp_path / "a"), load_artifact(tmp_path / "b")
    assert a.kind == "base" and a.metadata.feature_dim == 128
    for left, right in zip(a.model.get_weights(), b.model.get_weights(), strict=True):
        np.testing.assert_array_equal(left, right)
    assert first["holdout_accuracy"] == second["holdout_accuracy"]
    assert json.loads((tmp_path / "a" / "report.json").read_text())["seed"] == 5


def test_committed_default_base_model_loads_and_matches_its_report():
    base = load_artifact(COMMITTED_BASE)
    report = json.loads((COMMITTED_BASE / "report.json").read_text())
    assert base.kind == "base" and base.checksum == report["checksum"]
    assert base.model.output_shape == (None, 128)
