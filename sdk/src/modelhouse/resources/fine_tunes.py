"""``/v1/fine-tunes``: train a private model on a dataset, follow it, cancel it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from modelhouse._calls import Call, as_object, list_call
from modelhouse.pagination import AsyncPaginator, CursorPage, Page
from modelhouse.resources._base import AsyncResource, SyncResource
from modelhouse.resources._polling import async_poll, poll
from modelhouse.types import FineTune, FineTuneEvent

UpdateCallback = Callable[[FineTune], None]
EventCallback = Callable[[FineTuneEvent], None]


def _create(
    dataset: str,
    base_model: str | None,
    hyperparameters: dict[str, Any] | None,
    suffix: str | None,
    idempotency_key: str | None,
) -> Call[FineTune]:
    body: dict[str, Any] = {"dataset": dataset}
    for key, value in (
        ("base_model", base_model),
        ("hyperparameters", hyperparameters),
        ("suffix", suffix),
    ):
        if value is not None:
            body[key] = value
    return Call(
        "POST", "/v1/fine-tunes", as_object(FineTune), json=body, idempotency_key=idempotency_key
    )


def _list(limit: int | None, starting_after: str | None) -> Call[Page[FineTune]]:
    return list_call("/v1/fine-tunes", FineTune, limit=limit, starting_after=starting_after)


def _retrieve(job: str) -> Call[FineTune]:
    return Call("GET", f"/v1/fine-tunes/{job}", as_object(FineTune))


def _cancel(job: str) -> Call[FineTune]:
    return Call("POST", f"/v1/fine-tunes/{job}/cancel", as_object(FineTune))


def _events(job: str, limit: int | None, starting_after: str | None) -> Call[Page[FineTuneEvent]]:
    return list_call(
        f"/v1/fine-tunes/{job}/events", FineTuneEvent, limit=limit, starting_after=starting_after
    )


_EVENTS_PAGE = 100


def _unseen(events: list[FineTuneEvent], seen: set[str]) -> tuple[list[FineTuneEvent], bool]:
    """The ``events`` (a page of them) not in ``seen``, and whether the next page may hold
    more: events come newest first, so a page holding a seen event is the last to fetch."""
    unseen = [event for event in events if event.id not in seen]
    return unseen, len(unseen) == len(events)


def _finished(job: FineTune) -> bool:
    return job.finished


class FineTunes(SyncResource):
    def create(
        self,
        dataset: str,
        *,
        base_model: str | None = None,
        hyperparameters: dict[str, Any] | None = None,
        suffix: str | None = None,
        idempotency_key: str | None = None,
    ) -> FineTune:
        """Start a job on ``dataset``; unnamed hyperparameters are ``"auto"``.

        ``suffix`` names the model family it produces (``"pets"`` → ``pets:1``).
        """
        return self._send(_create(dataset, base_model, hyperparameters, suffix, idempotency_key))

    def list(
        self, *, limit: int | None = None, starting_after: str | None = None
    ) -> CursorPage[FineTune]:
        return self._list(_list(limit, starting_after))

    def retrieve(self, job: str) -> FineTune:
        return self._send(_retrieve(job))

    def cancel(self, job: str) -> FineTune:
        """Ask a queued or running job to stop; it ends ``cancelled`` shortly after."""
        return self._send(_cancel(job))

    def events(
        self, job: str, *, limit: int | None = None, starting_after: str | None = None
    ) -> CursorPage[FineTuneEvent]:
        """The job's events, newest first (iterating goes back in time, page by page)."""
        return self._list(_events(job, limit, starting_after))

    def new_events(self, job: str, seen: set[str]) -> list[FineTuneEvent]:
        """The events not in ``seen``, oldest first; adds their ids to ``seen``."""
        fresh: list[FineTuneEvent] = []
        for page in self.events(job, limit=_EVENTS_PAGE).iter_pages():
            unseen, more = _unseen(page.data, seen)
            fresh += unseen
            if not more:
                break
        seen.update(event.id for event in fresh)
        return fresh[::-1]

    def wait(
        self,
        job: str,
        *,
        timeout: float | None = None,
        poll_interval: float = 1.0,
        on_update: UpdateCallback | None = None,
        on_event: EventCallback | None = None,
    ) -> FineTune:
        """Follow the job until it succeeds, fails or is cancelled; return it.

        ``on_event`` receives each new event (epoch metrics, state changes,
        warnings) once, in order; then ``on_update`` the job as just polled (its
        ``status`` and ``progress``: ``epoch`` of ``epochs``), e.g. for a progress bar.
        """
        seen: set[str] = set()

        def update(current: FineTune) -> None:
            if on_event is not None:
                for event in self.new_events(job, seen):
                    on_event(event)
            if on_update is not None:
                on_update(current)

        return poll(
            lambda: self.retrieve(job),
            _finished,
            timeout=timeout,
            interval=poll_interval,
            on_update=update,
            what=f"fine-tune {job}",
        )


class AsyncFineTunes(AsyncResource):
    """:class:`FineTunes`, awaited (the callbacks of :meth:`wait` are plain functions)."""

    async def create(
        self,
        dataset: str,
        *,
        base_model: str | None = None,
        hyperparameters: dict[str, Any] | None = None,
        suffix: str | None = None,
        idempotency_key: str | None = None,
    ) -> FineTune:
        return await self._send(
            _create(dataset, base_model, hyperparameters, suffix, idempotency_key)
        )

    def list(
        self, *, limit: int | None = None, starting_after: str | None = None
    ) -> AsyncPaginator[FineTune]:
        return self._list(_list(limit, starting_after))

    async def retrieve(self, job: str) -> FineTune:
        return await self._send(_retrieve(job))

    async def cancel(self, job: str) -> FineTune:
        return await self._send(_cancel(job))

    def events(
        self, job: str, *, limit: int | None = None, starting_after: str | None = None
    ) -> AsyncPaginator[FineTuneEvent]:
        return self._list(_events(job, limit, starting_after))

    async def new_events(self, job: str, seen: set[str]) -> list[FineTuneEvent]:
        fresh: list[FineTuneEvent] = []
        first = await self.events(job, limit=_EVENTS_PAGE)
        async for page in first.iter_pages():
            unseen, more = _unseen(page.data, seen)
            fresh += unseen
            if not more:
                break
        seen.update(event.id for event in fresh)
        return fresh[::-1]

    async def wait(
        self,
        job: str,
        *,
        timeout: float | None = None,
        poll_interval: float = 1.0,
        on_update: UpdateCallback | None = None,
        on_event: EventCallback | None = None,
    ) -> FineTune:
        seen: set[str] = set()

        async def update(current: FineTune) -> None:
            if on_event is not None:
                for event in await self.new_events(job, seen):
                    on_event(event)
            if on_update is not None:
                on_update(current)

        return await async_poll(
            lambda: self.retrieve(job),
            _finished,
            timeout=timeout,
            interval=poll_interval,
            on_update=update,
            what=f"fine-tune {job}",
        )
