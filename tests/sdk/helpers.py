"""Data and settings shared by the SDK, CLI and contract tests."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from modelhouse import RetryPolicy
from PIL import Image

# Short backoffs: tests wait for Retry-After, not for jitter.
FAST_RETRIES = RetryPolicy(initial_backoff=0.05, max_backoff=0.5)

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 50), "blue": (40, 60, 230)}


def colour_png(label: str, seed: int, size: int = 32) -> bytes:
    """A nearly flat image of ``label``'s colour: trivially learnable from few examples."""
    rng = np.random.default_rng(seed)
    pixels = np.array(COLOURS[label], dtype=np.int16) + rng.integers(-8, 9, (size, size, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def write_dataset(root: Path, counts: dict[str, int]) -> Path:
    """A dataset folder: one sub-folder of PNGs per class (names from ``COLOURS``)."""
    for index, (label, count) in enumerate(counts.items()):
        (root / label).mkdir(parents=True)
        for i in range(count):
            colour = list(COLOURS)[index % len(COLOURS)]
            (root / label / f"{label}_{i}.png").write_bytes(colour_png(colour, 100 * index + i))
    return root
