"""Python client for the Modelhouse API: private image classifiers, fine-tuned and served.

See ``docs/sdk.md`` in the Modelhouse repository, or :class:`modelhouse.Client`.
"""

from modelhouse._version import __version__
from modelhouse.client import Client
from modelhouse.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    AuthenticationError,
    BillingError,
    ConfigurationError,
    ConflictError,
    InvalidRequestError,
    ModelhouseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    WaitTimeout,
)
from modelhouse.retries import RetryPolicy

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "AuthenticationError",
    "BillingError",
    "Client",
    "ConfigurationError",
    "ConflictError",
    "InvalidRequestError",
    "ModelhouseError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RetryPolicy",
    "WaitTimeout",
    "__version__",
]
