"""Production: every service is configured explicitly; nothing is embedded."""

import os

from saas import config

# DATABASE_OWNER_URL and DATABASE_CROSS_TENANT_URL only where needed (saas.config).
config.require("SECRET_KEY", "DATABASE_URL", "REDIS_URL")
os.environ["MODELHOUSE_DATABASE_ROLES"] = "given"
os.environ.setdefault("API_KEY_ENVIRONMENT", "live")

from .base import *  # noqa: E402,F403

if BILLING_PROVIDER == "stripe":  # noqa: F405
    config.require("STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRETS")
if not INFERENCE_METERING:  # noqa: F405
    raise config.ConfigurationError("INFERENCE_METERING=false is for benchmarks only.")

DEBUG = False  # whatever the environment says
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)  # noqa: F405
SECURE_REDIRECT_EXEMPT = [r"^healthz"]  # the load balancer's probe speaks plain HTTP
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)  # noqa: F405
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)  # noqa: F405
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
