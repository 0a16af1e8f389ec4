"""The price book: what each plan charges for each meter.

Money is never a float. Fees and caps are integers in minor units (cents for
``usd``); unit prices are ``Decimal`` minor units because a single image costs a
fraction of a cent. Rating (``billing.pricing.rating``) turns quantities into integer
amounts.

Tiers are *graduated* and count units from the start of the billing period:
units ``1..included`` are free, then each further unit is priced by the first
tier whose ``up_to`` is at or above the unit's position (``up_to=None`` means
"and beyond"). So ``included=1_000, tiers=(Tier(100_000, 0.05), Tier(None,
0.04))`` means: the first 1,000 units are free, units 1,001 to 100,000 cost
0.05 cents each, every unit after that 0.04 cents.

The default plans (all ``usd``, monthly) are sized for a small image-model API:

* ``free`` -- no fee, a generous allowance (5,000 base-model images, 1,000
  fine-tuned images and 30 minutes of training a month) and a hard spend cap of
  0: usage past the allowance is refused by the quota gate, and anything that
  slips past it (a race) is credited back, so the plan never costs money.
* ``payg`` -- no fee, pay per use from the first unit with volume discounts:
  base-model images $0.50 / 1,000, fine-tuned images $1.00 / 1,000, training
  $2.88 / GPU hour; a default spend cap of $1,000 a month protects new
  accounts from runaway bills.
* ``committed`` -- $500 a month including 2M base-model images, 1M
  fine-tuned images and 10 training hours, then cheaper tiers than ``payg``;
  no spend cap.

Each plan also bounds the datasets a tenant keeps stored (``storage``; training
refuses an upload past it before storing anything): ``free`` 10 datasets and
1 GiB, ``payg`` 200 and 50 GiB, ``committed`` 2,000 and 500 GiB.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Literal

IMAGES_BASE = "images_base"
"""Images classified by a shared base model."""
IMAGES_FINETUNED = "images_finetuned"
"""Images classified by a tenant's fine-tuned model."""
TRAINING_SECONDS = "training_seconds"
"""Wall-clock seconds of a fine-tune job on a training worker."""

METERS: tuple[str, ...] = (IMAGES_BASE, IMAGES_FINETUNED, TRAINING_SECONDS)
"""Every meter, in the order invoice lines are listed."""


@dataclass(frozen=True)
class Tier:
    """Units up to position ``up_to`` in the period (``None``: no limit) at ``unit_price``.

    ``unit_price`` is in minor units and may be fractional (``Decimal("0.05")``
    cents per image); it must be a ``Decimal`` so no float sneaks in.
    """

    up_to: int | None
    unit_price: Decimal

    def __post_init__(self) -> None:
        if not isinstance(self.unit_price, Decimal) or not self.unit_price.is_finite():
            raise TypeError(f"unit_price must be a finite Decimal, got {self.unit_price!r}")
        if self.unit_price < 0:
            raise ValueError("unit_price must not be negative")
        if self.up_to is not None and (not _is_int(self.up_to) or self.up_to < 1):
            raise ValueError(f"up_to must be a positive int or None, got {self.up_to!r}")


@dataclass(frozen=True)
class MeterPrice:
    """How one meter is charged: ``included`` free units, then graduated ``tiers``.

    Invariants (checked): tier bounds strictly increase, every bound lies above
    ``included`` (a tier inside the allowance could never apply), and the last
    tier is open-ended so every quantity has a price.
    """

    meter: str
    included: int
    tiers: tuple[Tier, ...]

    def __post_init__(self) -> None:
        if not _is_int(self.included) or self.included < 0:
            raise ValueError(f"included must be a non-negative int, got {self.included!r}")
        if not self.tiers or self.tiers[-1].up_to is not None:
            raise ValueError(f"{self.meter}: the last tier must have up_to=None")
        bound = self.included
        for tier in self.tiers[:-1]:
            if tier.up_to is None or tier.up_to <= bound:
                raise ValueError(
                    f"{self.meter}: tier bounds must increase and exceed the allowance"
                )
            bound = tier.up_to


@dataclass(frozen=True)
class StorageQuota:
    """What a tenant may keep stored: datasets holding files and their bytes (``None``:
    no limit).  Not metered or billed: a limit of the plan, like its spend cap."""

    datasets: int | None = None
    bytes: int | None = None

    def __post_init__(self) -> None:
        for name in ("datasets", "bytes"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 0):
                raise ValueError(f"{name} must be a non-negative int or None, got {value!r}")


@dataclass(frozen=True)
class Plan:
    """A monthly plan: a fixed fee plus a price per meter.

    ``monthly_spend_cap_minor`` caps the *usage* charges of one period (the
    base fee is not capped); ``None`` means uncapped. Rating credits anything
    above the cap on the invoice; the quota gate uses the same number to refuse
    usage before it happens.  ``storage`` bounds the datasets kept stored.
    """

    code: str
    name: str
    currency: str
    base_fee_minor: int
    prices: Mapping[str, MeterPrice]
    period: Literal["month"] = "month"
    monthly_spend_cap_minor: int | None = None
    storage: StorageQuota = StorageQuota()

    def __post_init__(self) -> None:
        if not _is_int(self.base_fee_minor) or self.base_fee_minor < 0:
            raise ValueError("base_fee_minor must be a non-negative int")
        cap = self.monthly_spend_cap_minor
        if cap is not None and (not _is_int(cap) or cap < 0):
            raise ValueError("monthly_spend_cap_minor must be a non-negative int or None")
        for meter, price in self.prices.items():
            if price.meter != meter:
                raise ValueError(f"price for {meter!r} is keyed under {price.meter!r}")

    def spend_cap_in_force(self, own_cap: int | None) -> int | None:
        """The cap that holds for a tenant that set ``own_cap`` (``None``: none of its own).

        A tenant's own cap can only lower the plan's: the plan's cap is what
        period close credits above, so a higher own cap would make usage free.
        """
        caps = [cap for cap in (self.monthly_spend_cap_minor, own_cap) if cap is not None]
        return min(caps) if caps else None

    def price_for(self, meter: str) -> MeterPrice:
        """The price of ``meter``; ``KeyError`` with a clear message if the plan lacks it."""
        try:
            return self.prices[meter]
        except KeyError:
            raise KeyError(f"plan {self.code!r} has no price for meter {meter!r}") from None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _plan(
    code: str,
    name: str,
    *,
    base_fee_minor: int,
    cap: int | None,
    prices: list[MeterPrice],
    storage: StorageQuota,
) -> Plan:
    return Plan(
        code=code,
        name=name,
        currency="usd",
        base_fee_minor=base_fee_minor,
        prices=MappingProxyType({price.meter: price for price in prices}),
        monthly_spend_cap_minor=cap,
        storage=storage,
    )


_GIB = 1024**3


# Volume tiers shared by ``payg`` and the overflow of ``free``: $0.50 / 1,000
# base images up to 1M, $0.40 / 1,000 up to 10M, $0.25 / 1,000 beyond.
_PAYG_BASE_TIERS = (
    Tier(1_000_000, Decimal("0.05")),
    Tier(10_000_000, Decimal("0.04")),
    Tier(None, Decimal("0.025")),
)
# Fine-tuned models cost more to serve (a head per tenant, colder caches).
_PAYG_FINETUNED_TIERS = (
    Tier(1_000_000, Decimal("0.10")),
    Tier(10_000_000, Decimal("0.08")),
    Tier(None, Decimal("0.05")),
)
# $2.88 per GPU hour (0.08 cents a second) up to 100 hours, then $2.16.
_PAYG_TRAINING_TIERS = (
    Tier(360_000, Decimal("0.08")),
    Tier(None, Decimal("0.06")),
)

FREE = _plan(
    "free",
    "Free",
    base_fee_minor=0,
    cap=0,
    prices=[
        MeterPrice(IMAGES_BASE, 5_000, _PAYG_BASE_TIERS),
        MeterPrice(IMAGES_FINETUNED, 1_000, _PAYG_FINETUNED_TIERS),
        MeterPrice(TRAINING_SECONDS, 1_800, _PAYG_TRAINING_TIERS),
    ],
    storage=StorageQuota(datasets=10, bytes=1 * _GIB),
)

PAYG = _plan(
    "payg",
    "Pay as you go",
    base_fee_minor=0,
    cap=100_000,
    prices=[
        MeterPrice(IMAGES_BASE, 0, _PAYG_BASE_TIERS),
        MeterPrice(IMAGES_FINETUNED, 0, _PAYG_FINETUNED_TIERS),
        MeterPrice(TRAINING_SECONDS, 0, _PAYG_TRAINING_TIERS),
    ],
    storage=StorageQuota(datasets=200, bytes=50 * _GIB),
)

COMMITTED = _plan(
    "committed",
    "Committed use",
    base_fee_minor=50_000,
    cap=None,
    prices=[
        MeterPrice(
            IMAGES_BASE,
            2_000_000,
            (Tier(20_000_000, Decimal("0.03")), Tier(None, Decimal("0.02"))),
        ),
        MeterPrice(
            IMAGES_FINETUNED,
            1_000_000,
            (Tier(10_000_000, Decimal("0.06")), Tier(None, Decimal("0.04"))),
        ),
        MeterPrice(TRAINING_SECONDS, 36_000, (Tier(None, Decimal("0.05")),)),
    ],
    storage=StorageQuota(datasets=2_000, bytes=500 * _GIB),
)

DEFAULT_PLANS: Mapping[str, Plan] = MappingProxyType(
    {plan.code: plan for plan in (FREE, PAYG, COMMITTED)}
)
DEFAULT_PLAN_CODE = "free"


def get_plan(code: str) -> Plan:
    """The default plan called ``code``; ``KeyError`` naming the known codes otherwise."""
    try:
        return DEFAULT_PLANS[code]
    except KeyError:
        known = ", ".join(DEFAULT_PLANS)
        raise KeyError(f"unknown plan {code!r} (known: {known})") from None


__all__ = [
    "COMMITTED",
    "DEFAULT_PLANS",
    "DEFAULT_PLAN_CODE",
    "FREE",
    "IMAGES_BASE",
    "IMAGES_FINETUNED",
    "METERS",
    "PAYG",
    "TRAINING_SECONDS",
    "MeterPrice",
    "Plan",
    "StorageQuota",
    "Tier",
    "get_plan",
]
