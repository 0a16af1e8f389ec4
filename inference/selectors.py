"""Reads of base models, tenants' model versions and predictions, and what a model
reference (a base model's id or name, a version id, a family alias) serves."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import Q

from billing.pricing.price_book import IMAGES_BASE, IMAGES_FINETUNED
from core.errors import InvalidRequest, NotFound
from inference.models import BaseModel, ModelVersion, Prediction
from tenants.models import Tenant

SERVING_HEAD_DIR = "head"  # a base model's own classifier head, if it has one


@dataclass(frozen=True)
class ServedModel:
    """What a predict call runs: enough for the web to validate input and for
    the worker to find and load the artifacts (plain JSON in the task payload)."""

    public_id: str
    input_size: tuple[int, int]
    base_checksum: str
    base_path: str
    artifact_path: str  # head or full artifact directory on the worker's file system
    is_base: bool

    @property
    def meter(self) -> str:
        return IMAGES_BASE if self.is_base else IMAGES_FINETUNED

    def payload(self) -> dict:
        return {
            "id": self.public_id,
            "base_checksum": self.base_checksum,
            "base_path": self.base_path,
            "artifact_path": self.artifact_path,
        }


def base_model_dir_get(base: BaseModel) -> Path:
    path = Path(base.artifact_path)
    return path if path.is_absolute() else Path(settings.BASE_DIR) / path


def served_base_model_get(base: BaseModel) -> ServedModel:
    head = base_model_dir_get(base) / SERVING_HEAD_DIR
    if not base.labels or not head.exists():
        raise InvalidRequest(
            f"Base model '{base.name}' has no classification head of its own; "
            "fine-tune it and call the resulting model.",
            code="model_not_servable",
            param="model",
        )
    return ServedModel(
        public_id=base.public_id,
        input_size=(base.input_shape[0], base.input_shape[1]),
        base_checksum=base.checksum,
        base_path=str(base_model_dir_get(base)),
        artifact_path=str(head),
        is_base=True,
    )


def _served_version(version: ModelVersion) -> ServedModel:
    base = version.base_model
    return ServedModel(
        public_id=version.public_id,
        input_size=(version.input_shape[0], version.input_shape[1]),
        base_checksum=base.checksum,
        base_path=str(base_model_dir_get(base)),
        artifact_path=default_storage.path(version.artifact_key),
        is_base=False,
    )


def model_version_get(tenant: Tenant, *, public_id: str) -> ModelVersion:
    version = (
        ModelVersion.objects.filter(tenant=tenant, public_id=public_id)
        .select_related("base_model")
        .first()
    )
    if version is None:
        raise NotFound.for_id("model", public_id, param="id")
    return version


BASE_CACHE_TTL_S = 30.0
_base_cache: dict[str, BaseModel] = {}
_base_cache_loaded_at = -BASE_CACHE_TTL_S


def _cached_base(ref: str) -> BaseModel | None:
    """Base models are few, global and rarely change: keep them in process memory,
    reloaded every BASE_CACHE_TTL_S (and at once after a registration here)."""
    global _base_cache, _base_cache_loaded_at
    if time.monotonic() - _base_cache_loaded_at > BASE_CACHE_TTL_S:
        bases = list(BaseModel.objects.all())
        _base_cache = {key: base for base in bases for key in (base.public_id, base.name)}
        _base_cache_loaded_at = time.monotonic()
    return _base_cache.get(ref)


def forget_base_models() -> None:
    global _base_cache_loaded_at
    _base_cache_loaded_at = -BASE_CACHE_TTL_S


def model_get(tenant: Tenant, *, ref: str) -> ModelVersion | BaseModel:
    """A base model id or name, a tenant version id, or a tenant family alias.

    Ids (``mdl_…``) are random; family names may not equal a base model name
    (inference.services.model_version_create); so at most one model matches.
    Another tenant's model is "not found", exactly like a missing one.
    """
    base = _cached_base(ref)
    if base is not None:
        return base
    version = (
        ModelVersion.objects.filter(tenant=tenant)
        .select_related("base_model")
        .filter(Q(public_id=ref) | Q(family=ref, is_active=True))
        .first()
    )
    if version is not None:
        return version
    raise NotFound.for_id("model", ref, param="id")


class _ServedVersions:
    """What version ids serve, least recently used evicted first (locked: the web
    serves requests on threads)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[int, str], ServedModel] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[int, str]) -> ServedModel | None:
        with self._lock:
            served = self._entries.get(key)
            if served is not None:
                self._entries.move_to_end(key)
            return served

    def put(self, key: tuple[int, str], served: ServedModel) -> None:
        with self._lock:
            self._entries[key] = served
            self._entries.move_to_end(key)
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)


_served_versions = _ServedVersions(size=10_000)


def served_model_get(tenant: Tenant, *, ref: str) -> ServedModel:
    """What a predict call on model ``ref`` runs.

    A model version never changes once created, so what its id serves is kept
    in process memory, keyed by tenant *and* id.  Family aliases are looked up
    every time: activating another version takes effect on the next request.
    """
    key = (tenant.pk, ref)
    served = _served_versions.get(key)
    if served is not None:
        return served
    model = model_get(tenant, ref=ref)
    if isinstance(model, BaseModel):
        return served_base_model_get(model)
    served = _served_version(model)
    if ref == model.public_id:
        _served_versions.put(key, served)
    return served


def base_model_list():
    return BaseModel.objects.order_by("name")


def model_version_list(tenant: Tenant):
    return ModelVersion.objects.filter(tenant=tenant).select_related("base_model")


def prediction_get(tenant: Tenant, *, public_id: str) -> Prediction:
    prediction = Prediction.objects.filter(tenant=tenant, public_id=public_id).first()
    if prediction is None:
        raise NotFound.for_id("prediction", public_id, param="id")
    return prediction


def served_base_model_list() -> list[ServedModel]:
    """The base models that answer predict calls themselves (they have a head)."""
    return [
        served_base_model_get(base)
        for base in BaseModel.objects.exclude(labels=[])
        if (base_model_dir_get(base) / SERVING_HEAD_DIR).exists()
    ]
