"""``/v1/datasets``: upload a folder (zipped here) or a zip, then wait for validation."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from modelhouse.archive import zip_folder
from modelhouse.progress import ReadProgress, bar
from modelhouse.resources._base import Resource
from modelhouse.resources._polling import poll
from modelhouse.types import Dataset, Page


class Datasets(Resource):
    def create(
        self,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        progress: bool = False,
        idempotency_key: str | None = None,
    ) -> Dataset:
        """Upload a dataset: a folder (zipped on the fly) or a ready ``.zip`` file.

        Answers at once with ``status == "processing"``; the server validates
        it in the background (see :meth:`wait`).  ``progress`` shows an upload bar.
        """
        path = Path(path)
        archive: IO[bytes] = zip_folder(path) if path.is_dir() else path.open("rb")
        filename = f"{path.name}.zip" if path.is_dir() else path.name
        with archive:
            size = archive.seek(0, os.SEEK_END)
            archive.seek(0)
            with bar(
                total=size, desc=f"upload {filename}", enabled=progress, unit="B", unit_scale=True
            ) as upload_bar:

                def moved(position: int) -> None:
                    upload_bar.update(position - upload_bar.n)

                body = self._client.request_json(
                    "POST",
                    "/v1/datasets",
                    files={"file": (filename, ReadProgress(archive, moved), "application/zip")},
                    data={"name": name} if name else None,
                    idempotency_key=idempotency_key,
                    timeout=max(60.0, size / 1_000_000),  # at least 1 MB/s
                )
        return Dataset.from_api(body)

    def list(
        self,
        *,
        limit: int | None = None,
        starting_after: str | None = None,
    ) -> Page[Dataset]:
        return self._page("/v1/datasets", Dataset, limit=limit, starting_after=starting_after)

    def iterate(self) -> Iterator[Dataset]:
        return self._iterate("/v1/datasets", Dataset)

    def retrieve(self, dataset: str) -> Dataset:
        return self._get(f"/v1/datasets/{dataset}", Dataset)

    def delete(self, dataset: str) -> dict[str, Any]:
        """Delete it (refused with 409 while a running fine-tune uses it)."""
        return self._client.request_json("DELETE", f"/v1/datasets/{dataset}")

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
            lambda d: d.status != "processing",
            timeout=timeout,
            interval=poll_interval,
            what=f"dataset {dataset}",
        )
