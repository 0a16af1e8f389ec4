"""`make run` on a developer machine: embedded PostgreSQL and Redis unless configured."""

import os

os.environ.setdefault("SECRET_KEY", "insecure-local-development-key-not-for-production")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("API_KEY_ENVIRONMENT", "test")
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")

from .base import *  # noqa: F403
