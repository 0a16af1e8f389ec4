"""Data and settings shared by the SDK, CLI and contract tests."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

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


def forced_error(
    status: int, request: httpx.Request, headers: dict[str, str] | None = None
) -> httpx.Response:
    """An error answer in the API's shape, made up on the client's side of the wire."""
    kind = "rate_limit_error" if status == 429 else "api_error"
    body = {"error": {"type": kind, "code": f"forced_{status}", "message": "forced", "param": None}}
    return httpx.Response(status, json=body, headers=headers, request=request)


class FailFirst(httpx.HTTPTransport):
    """Answers the first ``count`` requests with ``status`` itself (as a proxy in trouble
    would), then delivers every request to the real server."""

    def __init__(
        self, count: int, status: int = 503, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__()
        self.count, self.status, self.headers = count, status, headers
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if len(self.requests) <= self.count:
            return forced_error(self.status, request, self.headers)
        return super().handle_request(request)


class AsyncFailFirst(httpx.AsyncHTTPTransport):
    """:class:`FailFirst` for ``httpx.AsyncClient``."""

    def __init__(
        self, count: int, status: int = 503, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__()
        self.count, self.status, self.headers = count, status, headers
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if len(self.requests) <= self.count:
            return forced_error(self.status, request, self.headers)
        return await super().handle_async_request(request)
