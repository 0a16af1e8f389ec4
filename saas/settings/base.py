"""Settings shared by every environment.  Configuration comes from the
environment only (12-factor); :mod:`saas.config` validates it with clear errors.
"""

from pathlib import Path

from celery.schedules import crontab

from saas import config

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = config.env

SECRET_KEY = env.str("SECRET_KEY")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "saas",
    "core",
    "tenants",
    "billing",
    "inference",
    "training",
]

MIDDLEWARE = [
    "core.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "saas.urls"
WSGI_APPLICATION = "saas.wsgi.application"
AUTH_USER_MODEL = "tenants.User"
TENANT_MODEL = "tenants.Tenant"  # the organisation, named like AUTH_USER_MODEL (core.models)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database: the app connects as a role under row-level security; migrations
# run on the "owner" alias (the tables' owner).  See saas.config.
_DATABASE_PLAN = config.database_plan()
DATABASES = config.databases(_DATABASE_PLAN)
DATABASE_ROLES = config.database_roles(_DATABASE_PLAN)
# Inside tenants.scoping.unscoped(), the ORM uses the cross-tenant role's connection.
DATABASE_ROUTERS = ["core.db.router.CrossTenantRouter"]

# Server-side cursors would wrap our per-statement tenant setting in DECLARE.
for _alias in DATABASES.values():
    _alias["DISABLE_SERVER_SIDE_CURSORS"] = True

# --- redis / celery
REDIS_URL = config.redis_url()
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"{REDIS_URL}/{config.redis_db('cache')}",
        "KEY_PREFIX": "mh",
    }
}
CELERY_BROKER_URL = f"{REDIS_URL}/{config.redis_db('broker')}"
CELERY_RESULT_BACKEND = f"{REDIS_URL}/{config.redis_db('results')}"
# Every connection to these two is opened by core.redis.
REDIS_LANE_URL = f"{REDIS_URL}/{config.redis_db('lane')}"
REDIS_COUNTERS_URL = f"{REDIS_URL}/{config.redis_db('counters')}"
CELERY_TASK_ALWAYS_EAGER = False
# The longest a task may stay unacknowledged before Redis hands it to another
# worker: longer than the longest fine-tune a plan allows (training.conf checks).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT_S", default=6 * 3600)
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing one
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(config.media_root(BASE_DIR))},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tenants.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Modelhouse API",
    "DESCRIPTION": "Fine-tune private image classifiers and call them through a metered API.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],  # the document is public; a key sent along is not checked
    "SCHEMA_PATH_PREFIX": r"/v1/",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Enums stay inline where they are used (an object's constant "object" is one).
    "POSTPROCESSING_HOOKS": [],
}

# --- e-mail (spend alerts); `make run` prints mail to the console
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Modelhouse <billing@localhost>")

# --- product settings
API_KEY_ENVIRONMENT = env.str("API_KEY_ENVIRONMENT", default="live")
RATE_LIMIT_PER_KEY = env.int("RATE_LIMIT_PER_KEY", default=6000)  # requests per minute
RATE_LIMIT_PER_TENANT = env.int("RATE_LIMIT_PER_TENANT", default=20000)
IDEMPOTENCY_TTL_HOURS = 24
# Limits before authentication (core.ratelimit, tenants.authentication, core.login_throttle).
AUTH_FAILURES_PER_IP_PER_MINUTE = env.int("AUTH_FAILURES_PER_IP_PER_MINUTE", default=60)
LOGIN_FAILURES_PER_IP = env.int("LOGIN_FAILURES_PER_IP", default=30)  # per 15 minutes
LOGIN_FAILURES_PER_USERNAME = env.int("LOGIN_FAILURES_PER_USERNAME", default=10)  # per 15 min
# Proxies in front of the web that append X-Forwarded-For (0: clients connect directly).
TRUSTED_PROXY_HOPS = env.int("TRUSTED_PROXY_HOPS", default=0)
# Operators read /healthz/details with `Authorization: Bearer <token>` (empty: staff only).
HEALTH_DETAILS_TOKEN = env.str("HEALTH_DETAILS_TOKEN", default="")
# A request still in progress after this long is taken for dead: a repeat of it runs.
IDEMPOTENCY_LEASE_S = env.int("IDEMPOTENCY_LEASE_S", default=300)
INVITATION_TTL_DAYS = 7

# --- billing (see docs/billing.md)
BILLING_PROVIDER = env.str("BILLING_PROVIDER", default="local")  # "local" or "stripe"
STRIPE_API_KEY = env.str("STRIPE_API_KEY", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")  # e.g. localstripe in tests
STRIPE_WEBHOOK_SECRETS = env.list("STRIPE_WEBHOOK_SECRETS", default=[])
# Stripe's events are a few KB; a larger body is refused before it is read.
STRIPE_WEBHOOK_MAX_BYTES = env.int("STRIPE_WEBHOOK_MAX_BYTES", default=1024 * 1024)
BILLING_GRACE_DAYS = env.int("BILLING_GRACE_DAYS", default=7)
# A credit note above this (minor units) takes effect only once a second staff member
# approves it (billing.services.credit_note_approve).
BILLING_CREDIT_NOTE_APPROVAL_MINOR = env.int("BILLING_CREDIT_NOTE_APPROVAL_MINOR", default=10_000)
CELERY_BEAT_SCHEDULE = {
    "billing-rollup": {"task": "billing.rollup_usage", "schedule": 15 * 60},
    "billing-close-period": {
        "task": "billing.close_previous_period",
        "schedule": crontab(minute=30, hour="0,6"),
    },
    "billing-grace-periods": {"task": "billing.enforce_grace_periods", "schedule": 3600},
    # Admission holds whose owner died before ending them (billing.spend.enforcement).
    "billing-expired-holds": {"task": "billing.release_expired_holds", "schedule": 60},
    "billing-inbox-sweep": {"task": "billing.sweep_stripe_inbox", "schedule": 600},
    "billing-reconcile": {
        "task": "billing.reconcile_stripe",
        "schedule": crontab(minute=0, hour=3),
    },
    "core-purge-idempotency": {
        "task": "core.purge_idempotency_records",
        "schedule": 3600,
        "options": {"expires": 3600},  # a missed run is not worth stacking up
    },
    # A job whose whole host died is failed within minutes, not after the
    # broker's visibility timeout.
    "training-reap-stale": {"task": "fine_tunes.reap_stale", "schedule": 60},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- inference
INFERENCE_MAX_IMAGES_PER_REQUEST = env.int("INFERENCE_MAX_IMAGES_PER_REQUEST", default=64)
INFERENCE_MAX_IMAGE_BYTES = env.int("INFERENCE_MAX_IMAGE_BYTES", default=8 * 1024 * 1024)
# The served models take 64x64 images: a few megapixels is generous, and each one more
# costs decoding CPU (a pixel bomb is refused from its header).
INFERENCE_MAX_IMAGE_PIXELS = env.int("INFERENCE_MAX_IMAGE_PIXELS", default=4_000_000)
INFERENCE_SYNC_TIMEOUT_S = env.float("INFERENCE_SYNC_TIMEOUT_S", default=30.0)
# How long a queued request may wait for a worker (asynchronous predictions may queue).
INFERENCE_INPUT_TTL_S = env.int("INFERENCE_INPUT_TTL_S", default=3600)
# Images of one organisation admitted and not yet stored; past it a predict is 429.
INFERENCE_MAX_QUEUED_IMAGES_PER_TENANT = env.int(
    "INFERENCE_MAX_QUEUED_IMAGES_PER_TENANT", default=10_000
)
INFERENCE_MAX_BATCH_IMAGES = env.int("INFERENCE_MAX_BATCH_IMAGES", default=128)
INFERENCE_MAX_WAIT_MS = env.float("INFERENCE_MAX_WAIT_MS", default=2.0)
INFERENCE_GIL_SWITCH_INTERVAL_S = env.float("INFERENCE_GIL_SWITCH_INTERVAL_S", default=0.0005)
INFERENCE_CACHE_BYTES = env.int("INFERENCE_CACHE_BYTES", default=512 * 1024 * 1024)
# Compute threads of the CPU fallback (0: TensorFlow's default, one per core).
INFERENCE_CPU_THREADS = env.int("INFERENCE_CPU_THREADS", default=0)
# Benchmarks only (bench/inference.py measures what metering costs); production
# settings refuse to turn it off.
INFERENCE_METERING = env.bool("INFERENCE_METERING", default=True)
# Each route's body limit, counted as a multipart body streams (core.uploads): first.
FILE_UPLOAD_HANDLERS = [
    "core.uploads.BodyLimitUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Multipart bodies: Django keeps files up to this size in memory, larger on disk.
FILE_UPLOAD_MAX_MEMORY_SIZE = 16 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 80 * 1024 * 1024  # JSON with base64 images counts here

# --- training (defaults and the rest in training/conf.py)
TRAINING_MAX_JOB_SECONDS = env.int("TRAINING_MAX_JOB_SECONDS", default=4 * 3600)
