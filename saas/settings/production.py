"""Production: every service is configured explicitly; nothing is embedded."""

import os

from saas import config

config.require("SECRET_KEY", "DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL")
os.environ.setdefault("API_KEY_ENVIRONMENT", "live")

from .base import *  # noqa: E402,F403

if BILLING_PROVIDER == "stripe":  # noqa: F405
    config.require("STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRETS")
if not INFERENCE_METERING:  # noqa: F405
    raise config.ConfigurationError("INFERENCE_METERING=false is for benchmarks only.")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
