"""Registering base models (global records) from artifact directories.

Reads ``metadata.json`` as plain JSON, so registering needs no TensorFlow; the
worker verifies every checksum when it loads the weights.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from django.conf import settings
from django.db import transaction

from inference.models import BaseModel
from inference.selectors import SERVING_HEAD_DIR, forget_base_models

METADATA_FILE, REPORT_FILE = "metadata.json", "report.json"
# Never an id prefix (no "_"), so a name and an id cannot be confused.
BASE_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{0,99}$")
DEFAULT_BASE_DIR = Path("base_models")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path} is missing: not a model artifact directory") from None


def _stored_path(directory: Path) -> str:
    """Repository-relative for the committed defaults (portable across checkouts)."""
    directory = directory.resolve()
    try:
        return str(directory.relative_to(Path(settings.BASE_DIR).resolve()))
    except ValueError:
        return str(directory)


@transaction.atomic
def base_model_register(directory: Path, *, name: str | None = None) -> BaseModel:
    """Create or refresh the BaseModel for a base artifact directory."""
    metadata = _read_json(directory / METADATA_FILE)
    if metadata.get("kind") != "base":
        raise ValueError(f"{directory} holds a {metadata.get('kind')!r} artifact, not a base")
    head = directory / SERVING_HEAD_DIR
    name = name or metadata.get("name") or directory.name
    if not BASE_NAME.match(name):
        raise ValueError(f"base model name {name!r}: use lowercase letters, digits, '.' and '-'")
    labels = _read_json(head / METADATA_FILE)["labels"] if head.exists() else []
    report_path = directory / REPORT_FILE
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    base, _ = BaseModel.objects.update_or_create(
        name=name,
        defaults={
            "checksum": metadata["checksums"]["model.keras"],
            "artifact_path": _stored_path(directory),
            "labels": labels,
            "input_shape": metadata["input_shape"],
            "feature_dim": metadata["feature_dim"],
            "preprocessing_version": metadata["preprocessing_version"],
            "report": report,
        },
    )
    forget_base_models()  # this process sees it at once; others within the TTL
    return base


def committed_base_dir_list() -> list[Path]:
    root = Path(settings.BASE_DIR) / DEFAULT_BASE_DIR
    return (
        sorted(p for p in root.iterdir() if (p / METADATA_FILE).exists()) if root.exists() else []
    )
