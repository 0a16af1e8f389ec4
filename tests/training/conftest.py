import pytest

from tests.workers import celery_worker


@pytest.fixture(scope="session")
def training_workers(django_db_setup):
    """The default worker (dataset validation) and the training worker, as in production:
    prefork with one child, TensorFlow imported by the child only."""
    with (
        celery_worker("default"),
        celery_worker("training") as training,
    ):
        yield training
