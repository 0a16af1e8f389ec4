"""Fine-tune hyperparameters: validated on the web, resolved on the worker.

The web process may not import Keras, so it cannot call
:func:`ml.finetune.resolve_hyperparameters`.  It validates types and ranges
here, and :func:`resolve_for_estimate` repeats the ``"auto"`` rules that
decide how much work a job is — only to estimate its time and cost.  The
worker always resolves with ml's own function; a test pins the two equal.
"""

from __future__ import annotations

import math
from typing import Any

from core.errors import InvalidRequest
from training.conf import max_job_seconds, setting

AUTO = "auto"
AUGMENTATIONS = ("flip", "translate", "zoom", "contrast")

# name -> (type, lowest, highest); "auto" is accepted for every name but seed.
_NUMBERS: dict[str, tuple[type, float, float]] = {
    "epochs": (int, 1, 1000),
    "finetune_epochs": (int, 1, 1000),
    "learning_rate": (float, 1e-7, 1.0),
    "batch_size": (int, 1, 1024),
    "unfreeze_layers": (int, 0, 50),
    "validation_split": (float, 0.0, 0.5),
    "patience": (int, 1, 1000),
    "seed": (int, 0, 2**31 - 1),
    "max_seconds": (int, 1, 10**9),  # the upper bound is the configured cap, checked below
}
NAMES = (*_NUMBERS, "augment")


def validate_hyperparameters(raw: Any) -> dict[str, Any]:
    """Return the request's hyperparameters, checked, with every missing name ``"auto"``.

    Raises :class:`InvalidRequest` naming the first bad parameter.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidRequest("hyperparameters must be an object.", param="hyperparameters")
    unknown = sorted(set(raw) - set(NAMES))
    if unknown:
        raise InvalidRequest(
            f"Unknown hyperparameter(s): {', '.join(unknown)}; known: {', '.join(NAMES)}.",
            param=f"hyperparameters.{unknown[0]}",
        )
    checked = dict.fromkeys(NAMES, AUTO) | {"seed": 0}
    for name, value in raw.items():
        checked[name] = _augment(value) if name == "augment" else _number(name, value)
    if checked["max_seconds"] != AUTO and checked["max_seconds"] > max_job_seconds():
        raise InvalidRequest(
            f"hyperparameters.max_seconds may be at most {max_job_seconds()}.",
            param="hyperparameters.max_seconds",
        )
    return checked


def _number(name: str, value: Any) -> int | float | str:
    kind, lowest, highest = _NUMBERS[name]
    if value == AUTO and name != "seed":
        return AUTO
    is_int = isinstance(value, int) and not isinstance(value, bool)
    ok_type = is_int or (kind is float and isinstance(value, float) and math.isfinite(value))
    if not ok_type or not lowest <= value <= highest:
        kind_name = "an integer" if kind is int else "a number"
        raise InvalidRequest(
            f"hyperparameters.{name} must be {kind_name} from {lowest:g} to {highest:g}"
            + (' or "auto".' if name != "seed" else "."),
            param=f"hyperparameters.{name}",
        )
    return float(value) if kind is float else value


def _augment(value: Any) -> bool | str:
    if isinstance(value, bool) or value == AUTO:
        return value
    names = [part.strip() for part in value.split(",")] if isinstance(value, str) else None
    if names is None or not set(names) <= set(AUGMENTATIONS):
        raise InvalidRequest(
            f'hyperparameters.augment must be true, false, "auto" or a '
            f"comma-separated list of {', '.join(AUGMENTATIONS)}.",
            param="hyperparameters.augment",
        )
    return ",".join(names)


def budget_seconds(hyperparameters: dict[str, Any]) -> int:
    """The job's time budget: its ``max_seconds``, else the configured default (capped)."""
    requested = hyperparameters.get("max_seconds", AUTO)
    default = int(setting("TRAINING_DEFAULT_JOB_SECONDS"))
    return min(max_job_seconds(), default if requested == AUTO else int(requested))


def resolve_for_estimate(
    hyperparameters: dict[str, Any], num_images: int, num_classes: int
) -> dict[str, Any]:
    """The work-deciding ``"auto"`` values of :func:`ml.finetune.resolve_hyperparameters`.

    ``num_images`` is what the trainer receives (after the evaluation hold-out).
    Only epochs, batch size, validation split and unfrozen layers are resolved.
    """
    hp = dict(hyperparameters)
    if hp.get("validation_split", AUTO) == AUTO:
        hp["validation_split"] = 0.15 if num_images >= 20 * num_classes else 0.0
    train_images = round(num_images * (1 - hp["validation_split"]))
    if hp.get("batch_size", AUTO) == AUTO:
        hp["batch_size"] = 32 if train_images < 2000 else 64
    steps = max(1, math.ceil(train_images / hp["batch_size"]))
    defaults = {
        "epochs": min(150, max(20, math.ceil(600 / steps))),
        "finetune_epochs": min(40, max(5, math.ceil(1500 / steps))),
        "unfreeze_layers": 0 if train_images < 30 * num_classes else 6,
    }
    for name, value in defaults.items():
        if hp.get(name, AUTO) == AUTO:
            hp[name] = value
    hp["train_images"] = train_images
    return hp
