"""Python client for the Modelhouse API: private image classifiers, fine-tuned and served.

See ``docs/sdk.md`` in the Modelhouse repository, :class:`modelhouse.Client` and
:class:`modelhouse.AsyncClient`.
"""

from modelhouse._base_client import DEFAULT_TIMEOUT
from modelhouse._retries import DEFAULT_MAX_RETRIES
from modelhouse._version import __version__
from modelhouse.async_client import AsyncClient
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
    WaitTimeoutError,
)
from modelhouse.pagination import AsyncCursorPage, AsyncPaginator, CursorPage, Page

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "AsyncClient",
    "AsyncCursorPage",
    "AsyncPaginator",
    "AuthenticationError",
    "BillingError",
    "Client",
    "ConfigurationError",
    "ConflictError",
    "CursorPage",
    "InvalidRequestError",
    "ModelhouseError",
    "NotFoundError",
    "Page",
    "PermissionDeniedError",
    "RateLimitError",
    "WaitTimeoutError",
    "__version__",
]
