"""``/v1/fine-tunes``: train a private model on a dataset, follow it, cancel it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from modelhouse.progress import bar
from modelhouse.resources._base import Resource
from modelhouse.resources._polling import poll
from modelhouse.types import FineTune, FineTuneEvent, Page


class FineTunes(Resource):
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
        body: dict[str, Any] = {"dataset": dataset}
        for key, value in (
            ("base_model", base_model),
            ("hyperparameters", hyperparameters),
            ("suffix", suffix),
        ):
            if value is not None:
                body[key] = value
        return FineTune.from_api(
            self._client.request_json(
                "POST", "/v1/fine-tunes", json=body, idempotency_key=idempotency_key
            )
        )

    def list(
        self,
        *,
        limit: int | None = None,
        starting_after: str | None = None,
    ) -> Page[FineTune]:
        return self._page("/v1/fine-tunes", FineTune, limit=limit, starting_after=starting_after)

    def iterate(self) -> Iterator[FineTune]:
        return self._iterate("/v1/fine-tunes", FineTune)

    def retrieve(self, job: str) -> FineTune:
        return self._get(f"/v1/fine-tunes/{job}", FineTune)

    def cancel(self, job: str) -> FineTune:
        """Ask a queued or running job to stop; it ends ``cancelled`` shortly after."""
        return FineTune.from_api(self._client.request_json("POST", f"/v1/fine-tunes/{job}/cancel"))

    def events(
        self,
        job: str,
        *,
        limit: int | None = None,
        starting_after: str | None = None,
    ) -> Page[FineTuneEvent]:
        """A page of the job's events, newest first (``starting_after`` pages back in time)."""
        return self._page(
            f"/v1/fine-tunes/{job}/events",
            FineTuneEvent,
            limit=limit,
            starting_after=starting_after,
        )

    def new_events(self, job: str, seen: set[str]) -> list[FineTuneEvent]:
        """The events not in ``seen``, oldest first; adds their ids to ``seen``."""
        fresh: list[FineTuneEvent] = []
        cursor = None
        while True:
            page = self.events(job, limit=100, starting_after=cursor)
            unseen = [event for event in page.data if event.id not in seen]
            fresh += unseen
            if len(unseen) < len(page.data) or not page.has_more:
                break
            cursor = page.data[-1].id
        seen.update(event.id for event in fresh)
        return fresh[::-1]

    def wait(
        self,
        job: str,
        *,
        timeout: float | None = None,
        poll_interval: float = 1.0,
        progress: bool = False,
        on_event: Callable[[FineTuneEvent], None] | None = None,
    ) -> FineTune:
        """Follow the job until it succeeds, fails or is cancelled; return it.

        ``progress`` draws a bar of epochs; ``on_event`` receives each new event
        (epoch metrics, state changes, warnings) once, in order.
        """
        seen: set[str] = set()
        with bar(total=None, desc=job, enabled=progress, unit="epoch") as epochs_bar:

            def update(current: FineTune) -> None:
                if on_event is not None:
                    for event in self.new_events(job, seen):
                        on_event(event)
                epochs = current.progress.get("epochs") if current.progress else None
                if epochs:
                    epochs_bar.total = epochs
                    epochs_bar.update(int(current.progress.get("epoch") or 0) - epochs_bar.n)
                epochs_bar.set_postfix_str(current.status, refresh=True)

            return poll(
                lambda: self.retrieve(job),
                lambda j: j.finished,
                timeout=timeout,
                interval=poll_interval,
                on_update=update,
                what=f"fine-tune {job}",
            )
