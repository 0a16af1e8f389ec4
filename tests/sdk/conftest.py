"""The SDK and CLI against the running app: pytest-django's ``live_server`` serves it
over real HTTP on the test database, with real Celery workers where a test needs them."""

from __future__ import annotations

import contextlib

import pytest
from modelhouse import Client, _retries

from tests.workers import celery_worker


@pytest.fixture(autouse=True)
def no_user_config(tmp_path, monkeypatch):
    """Never read the developer's own ~/.config/modelhouse or environment."""
    monkeypatch.setenv("MODELHOUSE_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.delenv("MODELHOUSE_API_KEY", raising=False)
    monkeypatch.delenv("MODELHOUSE_BASE_URL", raising=False)


@pytest.fixture
def client(live_server, live_a):
    with Client(live_a.secret, base_url=live_server.url) as sdk:
        yield sdk


@pytest.fixture
def retry_waits(monkeypatch) -> list[float]:
    """Retries without waiting: the seconds each client would have slept before a
    resend, in order, replace the sleeping itself."""
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(_retries, "sleep", waits.append)
    monkeypatch.setattr(_retries, "async_sleep", record)
    return waits


@pytest.fixture(scope="module")
def workers(django_db_setup):
    """Every worker of the journey, as in production: datasets (validation), training
    (prefork, one child) and inference (solo).  Module scope: the other tests rely on
    nothing being processed behind their back."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(celery_worker("datasets"))
        stack.enter_context(celery_worker("training"))
        stack.enter_context(celery_worker("inference"))
        yield
