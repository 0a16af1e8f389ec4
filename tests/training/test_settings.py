"""The job budget cap must stay below the broker's visibility timeout."""

from django.core import checks
from django.test import override_settings

from training.conf import max_job_seconds, visibility_timeout_s

VISIBILITY_TIMEOUT_S = visibility_timeout_s()


def test_the_default_cap_is_below_the_visibility_timeout():
    assert 0 < max_job_seconds() < VISIBILITY_TIMEOUT_S


@override_settings(TRAINING_MAX_JOB_SECONDS=VISIBILITY_TIMEOUT_S)
def test_a_cap_reaching_the_visibility_timeout_fails_the_system_check():
    errors = [e for e in checks.run_checks() if e.id == "training.E001"]

    assert len(errors) == 1 and "visibility timeout" in errors[0].msg
