"""Where a dataset's files live, and how they are removed without a trace.

Keys come from :func:`tenants.storage.tenant_key` only.  Storage backends have
no directories to delete (S3) or leave empty ones behind (the file system), so
removal deletes every file under the dataset's prefix and then, where the
backend is a local directory tree, the emptied folders too.
"""

from __future__ import annotations

import contextlib
import os

from django.core.files.storage import default_storage

from tenants.models import Tenant
from tenants.storage import tenant_key

ARCHIVE_FILE, SCAN_FILE = "archive.zip", "scan.json"


def dataset_prefix(tenant: Tenant, dataset_id: str) -> str:
    return tenant_key(tenant, "datasets", dataset_id)


def dataset_file_key(tenant: Tenant, dataset_id: str, filename: str) -> str:
    return tenant_key(tenant, "datasets", dataset_id, filename)


def delete_prefix(prefix: str) -> None:
    """Delete every file under ``prefix`` (a folder key) and the folder itself."""
    try:
        folders, files = default_storage.listdir(prefix)
    except FileNotFoundError:
        return
    for name in files:
        default_storage.delete(f"{prefix}/{name}")
    for name in folders:
        delete_prefix(f"{prefix}/{name}")
    with contextlib.suppress(NotImplementedError, OSError):
        os.rmdir(default_storage.path(prefix))  # local storage only; must be empty by now
