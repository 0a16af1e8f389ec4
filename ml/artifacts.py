"""Model artifacts: a directory of weights plus ``metadata.json``.

Three kinds share one layout:

* ``base``: ``model.keras`` holds a backbone (``uint8`` images -> features);
* ``full``: ``model.keras`` holds a whole classifier (images -> probabilities);
* ``head``: ``head.npz`` holds only the head's ``kernel`` and ``bias``; it names
  its base by checksum, so the serving engine can run one backbone for many
  heads and a head costs kilobytes instead of megabytes.

The metadata records the SHA-256 of every weights file.  Loading verifies it,
refuses a preprocessing version other than the one this code decodes with, and
deserialises with ``safe_mode=True``.  Only artifacts written by our own
training code or imported by an operator are ever loaded: a ``.keras`` file can
carry code, so tenants never supply one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import keras
import numpy as np

from ml.images import PREPROCESSING_VERSION

FORMAT_VERSION = 1
METADATA_FILE = "metadata.json"
MODEL_FILE = "model.keras"
HEAD_FILE = "head.npz"

ArtifactKind = Literal["base", "full", "head"]


class ArtifactError(Exception):
    """An artifact that cannot be used: missing, tampered with, or incompatible."""


@dataclass(frozen=True)
class BaseReference:
    """Identity of a base model: a human name and the checksum of its weights."""

    name: str
    checksum: str


@dataclass(frozen=True)
class ArtifactMetadata:
    kind: ArtifactKind
    labels: list[str]
    input_shape: list[int]
    feature_layer: str | None
    base_model: BaseReference | None = None
    name: str = ""
    preprocessing_version: str = PREPROCESSING_VERSION
    format_version: int = FORMAT_VERSION
    created_at: str = ""
    checksums: dict[str, str] = field(default_factory=dict)
    feature_dim: int | None = None
    training: dict[str, Any] = field(default_factory=dict)

    @property
    def checksum(self) -> str:
        """Checksum of the artifact's weights file: the identity heads refer to."""
        return self.checksums[HEAD_FILE if self.kind == "head" else MODEL_FILE]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ArtifactMetadata:
        base = data.get("base_model")
        return cls(**{**data, "base_model": BaseReference(**base) if base else None})


@dataclass(frozen=True)
class HeadWeights:
    """A dense softmax head: ``probabilities = softmax(features @ kernel + bias)``."""

    kernel: np.ndarray  # (feature_dim, num_classes), float32
    bias: np.ndarray  # (num_classes,), float32

    @property
    def nbytes(self) -> int:
        return int(self.kernel.nbytes + self.bias.nbytes)


@dataclass(frozen=True)
class LoadedArtifact:
    """A verified artifact in memory: ``model`` for base/full kinds, ``head`` for heads."""

    path: Path
    metadata: ArtifactMetadata
    model: keras.Model | None = None
    head: HeadWeights | None = None

    @property
    def kind(self) -> ArtifactKind:
        return self.metadata.kind

    @property
    def labels(self) -> list[str]:
        return self.metadata.labels

    @property
    def checksum(self) -> str:
        return self.metadata.checksum

    @property
    def input_size(self) -> tuple[int, int]:
        """``(height, width)`` to pass to :func:`ml.images.load_image`."""
        return self.metadata.input_shape[0], self.metadata.input_shape[1]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_artifact(
    directory: str | Path,
    metadata: ArtifactMetadata,
    *,
    model: keras.Model | None = None,
    head: HeadWeights | None = None,
) -> ArtifactMetadata:
    """Write ``model`` (base/full) or ``head`` (head) and the metadata into ``directory``.

    Fills in ``created_at``, ``format_version``, ``preprocessing_version`` and the
    checksums; returns the metadata as written.  The directory is created; files
    already in it are overwritten.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if (metadata.kind == "head") != (head is not None) or (model is None) == (head is None):
        raise ArtifactError(
            f"A {metadata.kind!r} artifact needs exactly "
            f"{'a head' if metadata.kind == 'head' else 'a model'}."
        )
    if model is not None:
        model.save(directory / MODEL_FILE)
        weights_file = MODEL_FILE
    else:
        np.savez(
            directory / HEAD_FILE,
            kernel=head.kernel.astype(np.float32),
            bias=head.bias.astype(np.float32),
        )
        weights_file = HEAD_FILE
    written = ArtifactMetadata(
        **{
            **asdict(metadata),
            "base_model": metadata.base_model,
            "format_version": FORMAT_VERSION,
            "preprocessing_version": PREPROCESSING_VERSION,
            "created_at": metadata.created_at or dt.datetime.now(dt.UTC).isoformat(),
            "checksums": {weights_file: sha256_file(directory / weights_file)},
        }
    )
    (directory / METADATA_FILE).write_text(json.dumps(written.to_json(), indent=2) + "\n")
    return written


def read_metadata(directory: str | Path) -> ArtifactMetadata:
    """Parse ``metadata.json`` without loading or verifying any weights."""
    path = Path(directory) / METADATA_FILE
    try:
        return ArtifactMetadata.from_json(json.loads(path.read_text()))
    except FileNotFoundError:
        raise ArtifactError(f"{path} does not exist.") from None
    except (ValueError, TypeError) as exc:
        raise ArtifactError(f"{path} is not valid artifact metadata: {exc}") from None


def load_artifact(directory: str | Path) -> LoadedArtifact:
    """Verify and load an artifact; raise :class:`ArtifactError` if it is unusable."""
    directory = Path(directory)
    metadata = read_metadata(directory)
    if metadata.format_version != FORMAT_VERSION:
        raise ArtifactError(
            f"Artifact format {metadata.format_version} is not supported "
            f"(expected {FORMAT_VERSION})."
        )
    if metadata.preprocessing_version != PREPROCESSING_VERSION:
        raise ArtifactError(
            f"The artifact was trained with preprocessing {metadata.preprocessing_version!r} "
            f"but this code decodes images with {PREPROCESSING_VERSION!r}; retrain it."
        )
    if not metadata.checksums:
        raise ArtifactError(f"{directory} records no checksums.")
    for filename, expected in metadata.checksums.items():
        path = directory / filename
        if not path.is_file():
            raise ArtifactError(f"{path} is missing.")
        if sha256_file(path) != expected:
            raise ArtifactError(f"{path} does not match its recorded checksum; refusing it.")
    if metadata.kind == "head":
        with np.load(directory / HEAD_FILE, allow_pickle=False) as data:
            head = HeadWeights(kernel=data["kernel"], bias=data["bias"])
        return LoadedArtifact(path=directory, metadata=metadata, head=head)
    model = keras.saving.load_model(directory / MODEL_FILE, compile=False, safe_mode=True)
    return LoadedArtifact(path=directory, metadata=metadata, model=model)
