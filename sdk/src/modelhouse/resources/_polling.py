"""Polling until an object reaches a final state, with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from modelhouse.errors import WaitTimeout

Polled = TypeVar("Polled")


def poll(
    fetch: Callable[[], Polled],
    done: Callable[[Polled], bool],
    *,
    timeout: float | None,
    interval: float,
    on_update: Callable[[Polled], None] | None = None,
    what: str = "object",
) -> Polled:
    """Call ``fetch`` every ``interval`` seconds until ``done``; raise :class:`WaitTimeout`
    after ``timeout`` seconds (``None``: wait for ever)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        current = fetch()
        if on_update is not None:
            on_update(current)
        if done(current):
            return current
        if deadline is not None and time.monotonic() >= deadline:
            raise WaitTimeout(f"{what} is not finished after {timeout} s")
        time.sleep(interval)
