import pytest

from tests.workers import celery_worker


@pytest.fixture(scope="session")
def inference_worker(django_db_setup):
    with celery_worker("inference") as worker:
        yield worker
