"""pytest: the same engines as production (embedded unless configured), a
separate database and separate Redis databases, fast password hashing."""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key")
os.environ.setdefault("API_KEY_ENVIRONMENT", "test")
os.environ.setdefault("MODELHOUSE_DB_NAME", "modelhouse_test")
os.environ.setdefault("MODELHOUSE_REDIS_DB_OFFSET", "8")
os.environ.setdefault("MODELHOUSE_MEDIA_ROOT", "var/test-media")

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Celery workers started by tests (tests/workers.py) send spend alerts too; no
# SMTP server is there (pytest-django does the same in the test process).
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
