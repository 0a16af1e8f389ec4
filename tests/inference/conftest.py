import pytest

from inference.registry import base_model_register, committed_base_dirs
from tests.factories import make_tenant
from tests.workers import celery_worker


@pytest.fixture(scope="session")
def inference_worker(django_db_setup):
    with celery_worker("inference", concurrency=16) as worker:
        yield worker


@pytest.fixture
def base_model(db):
    return base_model_register(committed_base_dirs()[0])


@pytest.fixture
def live_base_model(transactional_db):
    return base_model_register(committed_base_dirs()[0])


@pytest.fixture
def live_a(transactional_db):
    return make_tenant("Acme")


@pytest.fixture
def live_b(transactional_db):
    return make_tenant("Globex")
