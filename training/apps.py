from django.apps import AppConfig
from django.core import checks


class TrainingConfig(AppConfig):
    name = "training"
    verbose_name = "Datasets and fine-tuning"

    def ready(self) -> None:
        checks.register(_budget_below_visibility_timeout)


def _budget_below_visibility_timeout(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """A job allowed to outlive the broker's visibility timeout would be delivered twice."""
    from training.conf import max_job_seconds

    try:
        max_job_seconds()
    except RuntimeError as exc:
        return [checks.Error(str(exc), id="training.E001")]
    return []
