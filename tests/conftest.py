"""Test set-up: a fresh test database on real PostgreSQL (embedded unless
DATABASE_URL is set), migrated as the owner role; tests connect as the
restricted app role, exactly like production.  Redis is real too.
"""

from __future__ import annotations

import pytest
import redis
from django.conf import settings
from django.core.files.uploadhandler import MemoryFileUploadHandler, TemporaryFileUploadHandler
from django.core.management import call_command
from django.db import connections

from billing.spend import enforcement
from inference.registry import base_model_register, committed_base_dir_list
from saas import config
from saas.database_setup import ensure_roles_and_database
from tests.contract import recorder as contract_recorder
from tests.factories import make_tenant

_DB_FIXTURES = {"db", "transactional_db", "live_server"}


def pytest_collection_modifyitems(items):
    """Tests that use the database may use the cross-tenant connection too (what
    tenants.scoping.unscoped() connects as).  A test whose unscoped code must see the
    test's own writes commits them: ``django_db(transaction=True)``."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is None and not _DB_FIXTURES & set(item.fixturenames):
            continue
        kwargs = {"databases": ["default", "crosstenant"], **(marker.kwargs if marker else {})}
        item.add_marker(pytest.mark.django_db(*(marker.args if marker else ()), **kwargs), False)


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker):
    plan = config.database_plan()
    with django_db_blocker.unblock():
        if plan.admin is not None:
            ensure_roles_and_database(plan, recreate=True)
        call_command("migrate", database="owner", interactive=False, verbosity=0)
        with connections["owner"].cursor() as cursor:
            # Test-only privilege: transactional tests empty the tables between
            # tests as the app role.  Production's app role cannot TRUNCATE.
            for role in (plan.app["USER"], plan.cross_tenant["USER"]):
                cursor.execute(f'GRANT TRUNCATE ON ALL TABLES IN SCHEMA public TO "{role}"')
        connections["owner"].close()
    for use in ("broker", "results", "cache", "counters"):
        redis.Redis.from_url(f"{settings.REDIS_URL}/{config.redis_db(use)}").flushdb()


@pytest.fixture(scope="session")
def contract():
    """The OpenAPI document every response of the suite is checked against."""
    recorder = contract_recorder.install()
    yield recorder
    recorder.restore()


@pytest.fixture
def spooled(monkeypatch):
    """Bytes of uploaded files that reached Django's memory or temporary-file handlers
    (behind core.uploads.BodyLimitUploadHandler, first in FILE_UPLOAD_HANDLERS)."""
    received = []
    for handler in (MemoryFileUploadHandler, TemporaryFileUploadHandler):
        original = handler.receive_data_chunk

        def recording(self, raw_data, start, original=original):
            received.append(len(raw_data))
            return original(self, raw_data, start)

        monkeypatch.setattr(handler, "receive_data_chunk", recording)
    return received


@pytest.fixture(autouse=True)
def no_remembered_refusals():
    """Each test starts with no refusal remembered in this process (billing.spend.enforcement
    remembers exhausted quotas and caps for a moment, keyed by tenant ids the database reuses)."""
    enforcement._recent_refusals.clear()


@pytest.fixture(autouse=True)
def responses_keep_the_contract(request, contract):
    """Fails a test during which the app answered anything its OpenAPI document does not
    describe (tests/contract/recorder.py)."""
    contract.take_violations()
    yield
    violations = contract.take_violations()
    if violations:
        pytest.fail("Responses outside the OpenAPI document:\n" + "\n".join(violations))


def pytest_terminal_summary(terminalreporter):
    recorder = getattr(contract_recorder, "active", None)
    if recorder is not None:
        terminalreporter.write_line(
            f"contract: {recorder.checked} responses checked against the OpenAPI document"
        )


@pytest.fixture
def tenant_a(db):
    return make_tenant("Acme")


@pytest.fixture
def tenant_b(db):
    return make_tenant("Globex")


@pytest.fixture
def base_model(db):
    return base_model_register(committed_base_dir_list()[0])


@pytest.fixture
def live_base_model(transactional_db):
    return base_model_register(committed_base_dir_list()[0])


@pytest.fixture
def live_a(transactional_db):
    return make_tenant("Acme")


@pytest.fixture
def live_b(transactional_db):
    return make_tenant("Globex")
