import pytest

from tests.workers import celery_worker


@pytest.fixture(scope="session")
def training_workers(django_db_setup):
    """The datasets worker (validation) and the training worker, as in production:
    prefork with one child, TensorFlow imported by the child only.  No default
    worker: validation must not need one (it has its own queue)."""
    with (
        celery_worker("datasets"),
        celery_worker("training") as training,
    ):
        yield training
