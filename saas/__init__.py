"""The Modelhouse project package: settings, Celery app, URLs, errors."""
