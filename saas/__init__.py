"""The composition root: settings, the Celery app, URLs, WSGI/ASGI, ``runstack``.

Importing the Celery app here makes it the current app in every process that
loads Django, so ``shared_task`` and ``current_app.send_task`` use its broker.
"""

from saas.celery import app as celery_app

__all__ = ["celery_app"]
