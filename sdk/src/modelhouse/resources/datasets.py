"""``/v1/datasets``: upload a folder (zipped here) or a zip, then wait for validation."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from modelhouse._calls import Call, as_json, as_object, list_call
from modelhouse._upload import ProgressCallback, Upload, open_upload
from modelhouse.pagination import AsyncPaginator, CursorPage, Page
from modelhouse.resources._base import AsyncResource, SyncResource
from modelhouse.resources._polling import async_poll, poll
from modelhouse.types import Dataset

# An upload may take as long as sending it at this rate, if that is longer than
# the client's timeout.
_SLOWEST_UPLOAD_BYTES_PER_S = 1_000_000


def _create(
    upload: Upload,
    *,
    name: str | None,
    on_progress: ProgressCallback | None,
    idempotency_key: str | None,
    client_timeout: float,
) -> Call[Dataset]:
    return Call(
        "POST",
        "/v1/datasets",
        as_object(Dataset),
        files={"file": upload.part(on_progress)},
        data={"name": name} if name else None,
        idempotency_key=idempotency_key,
        timeout=max(client_timeout, upload.size / _SLOWEST_UPLOAD_BYTES_PER_S),
    )


def _list(limit: int | None, starting_after: str | None) -> Call[Page[Dataset]]:
    return list_call("/v1/datasets", Dataset, limit=limit, starting_after=starting_after)


def _retrieve(dataset: str) -> Call[Dataset]:
    return Call("GET", f"/v1/datasets/{dataset}", as_object(Dataset))


def _delete(dataset: str) -> Call[dict[str, Any]]:
    return Call("DELETE", f"/v1/datasets/{dataset}", as_json)


def _validated(dataset: Dataset) -> bool:
    return dataset.status != "processing"


class Datasets(SyncResource):
    def create(
        self,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        on_progress: ProgressCallback | None = None,
        idempotency_key: str | None = None,
    ) -> Dataset:
        """Upload a dataset: a folder (zipped on the fly) or a ready ``.zip`` file.

        Answers at once with ``status == "processing"``; the server validates
        it in the background (see :meth:`wait`).  ``on_progress(sent, total)``
        is called as the archive's bytes are read for sending (again from 0 if
        the upload is retried).
        """
        with open_upload(path) as upload:
            return self._send(
                _create(
                    upload,
                    name=name,
                    on_progress=on_progress,
                    idempotency_key=idempotency_key,
                    client_timeout=self._client.timeout,
                )
            )

    def list(
        self, *, limit: int | None = None, starting_after: str | None = None
    ) -> CursorPage[Dataset]:
        return self._list(_list(limit, starting_after))

    def retrieve(self, dataset: str) -> Dataset:
        return self._send(_retrieve(dataset))

    def delete(self, dataset: str) -> dict[str, Any]:
        """Delete it (refused with 409 while a running fine-tune uses it)."""
        return self._send(_delete(dataset))

    def wait(
        self,
        dataset: str,
        *,
        timeout: float | None = 600.0,
        poll_interval: float = 0.5,
    ) -> Dataset:
        """Poll until validation ends; return the dataset, ``ready`` or ``failed``."""
        return poll(
            lambda: self.retrieve(dataset),
            _validated,
            timeout=timeout,
            interval=poll_interval,
            what=f"dataset {dataset}",
        )


class AsyncDatasets(AsyncResource):
    """:class:`Datasets`, awaited."""

    async def create(
        self,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        on_progress: ProgressCallback | None = None,
        idempotency_key: str | None = None,
    ) -> Dataset:
        """:meth:`Datasets.create`; a folder is zipped in a worker thread, not the loop."""
        upload = await asyncio.to_thread(open_upload, path)
        with upload:
            return await self._send(
                _create(
                    upload,
                    name=name,
                    on_progress=on_progress,
                    idempotency_key=idempotency_key,
                    client_timeout=self._client.timeout,
                )
            )

    def list(
        self, *, limit: int | None = None, starting_after: str | None = None
    ) -> AsyncPaginator[Dataset]:
        return self._list(_list(limit, starting_after))

    async def retrieve(self, dataset: str) -> Dataset:
        return await self._send(_retrieve(dataset))

    async def delete(self, dataset: str) -> dict[str, Any]:
        return await self._send(_delete(dataset))

    async def wait(
        self,
        dataset: str,
        *,
        timeout: float | None = 600.0,
        poll_interval: float = 0.5,
    ) -> Dataset:
        return await async_poll(
            lambda: self.retrieve(dataset),
            _validated,
            timeout=timeout,
            interval=poll_interval,
            what=f"dataset {dataset}",
        )
