"""Polling until an object reaches a final state, with a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from modelhouse.errors import WaitTimeoutError

Polled = TypeVar("Polled")


class Deadline:
    """``timeout`` seconds from now (``None``: never); :meth:`check` raises once past it."""

    def __init__(self, timeout: float | None, what: str) -> None:
        self._timeout = timeout
        self._at = None if timeout is None else time.monotonic() + timeout
        self._what = what

    def check(self) -> None:
        if self._at is not None and time.monotonic() >= self._at:
            raise WaitTimeoutError(f"{self._what} is not finished after {self._timeout} s")


def poll(
    fetch: Callable[[], Polled],
    done: Callable[[Polled], bool],
    *,
    timeout: float | None,
    interval: float,
    on_update: Callable[[Polled], None] | None = None,
    what: str = "object",
) -> Polled:
    """Call ``fetch`` every ``interval`` seconds until ``done``; raise
    :class:`WaitTimeoutError` after ``timeout`` seconds (``None``: wait for ever).
    ``on_update`` sees every state fetched, the final one included."""
    deadline = Deadline(timeout, what)
    while True:
        current = fetch()
        if on_update is not None:
            on_update(current)
        if done(current):
            return current
        deadline.check()
        time.sleep(interval)


async def async_poll(
    fetch: Callable[[], Awaitable[Polled]],
    done: Callable[[Polled], bool],
    *,
    timeout: float | None,
    interval: float,
    on_update: Callable[[Polled], Awaitable[None]] | None = None,
    what: str = "object",
) -> Polled:
    """:func:`poll` for coroutines: ``fetch`` and ``on_update`` are awaited."""
    deadline = Deadline(timeout, what)
    while True:
        current = await fetch()
        if on_update is not None:
            await on_update(current)
        if done(current):
            return current
        deadline.check()
        await asyncio.sleep(interval)
