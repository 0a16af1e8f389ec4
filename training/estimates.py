"""What a fine-tune will cost, before it runs: an estimate and a hard cap.

Time is estimated from the dataset's counts, the resolved amount of work
(epochs, images, unfrozen phase) and the reference worker's throughput
(settings ``TRAINING_ESTIMATE_*``; calibrate them with bench/finetune.py).
The cap is the job's budget: the worker stops training at it and never bills
more.  Money is priced at the plan's first paid tier, i.e. before any free
allowance and before volume discounts, so both figures are upper bounds of
what this job alone can add to an invoice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from billing.pricing.price_book import TRAINING_SECONDS, get_plan
from billing.pricing.rating import rate
from tenants.models import Tenant
from training.conf import setting
from training.hyperparameters import resolve_for_estimate
from training.splits import split_plan, trained_image_count

AUGMENTED_VIEWS = 2  # ml.finetune.AUGMENTED_VIEWS: extra views per image when augmenting


@dataclass(frozen=True)
class Estimate:
    seconds: int
    max_seconds: int
    cost: int  # minor units
    max_cost: int
    currency: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def estimate_seconds(summary: dict[str, Any], hyperparameters: dict[str, Any]) -> float:
    """Seconds of training work for a dataset ``summary`` (see DatasetScan.summary)."""
    plan = split_plan(summary["splits"])
    images = trained_image_count(summary["counts"], plan)
    hp = resolve_for_estimate(hyperparameters, images, len(summary["classes"]))
    augment = hp.get("augment", "auto") not in (False, "")
    head_images = hp["train_images"] * (1 + AUGMENTED_VIEWS if augment else 1)
    evaluated = sum(summary["split_counts"].values()) - images
    forward = (head_images + (images - hp["train_images"]) + evaluated) / float(
        setting("TRAINING_ESTIMATE_FEATURE_IMAGES_PER_S")
    )
    head = hp["epochs"] * head_images / float(setting("TRAINING_ESTIMATE_HEAD_IMAGES_PER_S"))
    full = (
        hp["finetune_epochs"]
        * hp["train_images"]
        / float(setting("TRAINING_ESTIMATE_FULL_IMAGES_PER_S"))
        if hp["unfreeze_layers"]
        else 0.0
    )
    return float(setting("TRAINING_ESTIMATE_OVERHEAD_S")) + forward + head + full


def _price(tenant: Tenant, seconds: int) -> tuple[int, str]:
    plan = get_plan(tenant.plan)
    price = plan.price_for(TRAINING_SECONDS)
    return rate(price, seconds, already_used=price.included).amount_minor, plan.currency


def estimate_job(
    tenant: Tenant, summary: dict[str, Any] | None, hyperparameters: dict[str, Any], budget: int
) -> Estimate:
    """The estimate for a job; without a summary yet (dataset still processing), the cap."""
    seconds = (
        budget
        if summary is None
        else min(budget, round(estimate_seconds(summary, hyperparameters)))
    )
    cost, currency = _price(tenant, seconds)
    max_cost, _ = _price(tenant, budget)
    return Estimate(
        seconds=seconds, max_seconds=budget, cost=cost, max_cost=max_cost, currency=currency
    )
