"""Layer 1 of tenancy for the API: the tenant comes from the API key, nothing else.

:class:`ApiKeyAuthentication` is DRF's ``DEFAULT_AUTHENTICATION_CLASSES``, used
by core's ``TenantAPIView`` for every key-authenticated endpoint.

Before any look-up a key must be well formed, carry a valid checksum and be made
for this deployment's ``API_KEY_ENVIRONMENT`` (a test key is refused by a live
deployment and the other way round).  Failed authentications are counted per
client address; a client past ``AUTH_FAILURES_PER_IP_PER_MINUTE`` is answered 429
before its key is looked up (core.ratelimit.FailureLimit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication

from core import ratelimit
from core.context import tenant_context
from core.errors import AuthenticationFailed
from tenants import api_keys
from tenants.models import ApiKey, Tenant

LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class ApiPrincipal:
    """Who is calling: one API key of one tenant."""

    tenant: Tenant
    api_key_id: int
    api_key_public_id: str
    scopes: frozenset[str]


_INVALID = "Invalid API key provided."
# Each failure may have cost a database look-up: a burst of 60, then one a second.
FAILED_AUTHENTICATIONS = ratelimit.FailureLimit(
    "auth", setting="AUTH_FAILURES_PER_IP_PER_MINUTE", default=60
)
_TENANT_FIELDS = ["id", "public_id", "name", "plan", "status", "created_at"]


def _bearer(header: str) -> str:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed(
            "No API key provided: send 'Authorization: Bearer <api key>'.", code="missing_api_key"
        )
    return token.strip()


def authenticate(authorization_header: str) -> ApiPrincipal:
    """Resolve a bearer key to its principal; every failure is a 401."""
    secret = _bearer(authorization_header)
    parsed = api_keys.parse(secret)
    if parsed is None:  # malformed or wrong checksum: no database hit
        raise AuthenticationFailed(_INVALID)
    prefix, environment = parsed
    if environment != settings.API_KEY_ENVIRONMENT:
        raise AuthenticationFailed(
            f"This is a {environment} API key; this deployment accepts only "
            f"{settings.API_KEY_ENVIRONMENT} keys (mh_{settings.API_KEY_ENVIRONMENT}_...).",
            code="api_key_wrong_environment",
        )
    with connection.cursor() as cursor:  # the key and its (global) tenant row in one query
        cursor.execute(
            "SELECT k.id, k.public_id, k.digest, k.scopes, k.expires_at, k.revoked_at,"
            " k.last_used_at, t.id, t.public_id, t.name, t.plan, t.status, t.created_at"
            " FROM modelhouse_api_key_lookup(%s) k JOIN tenants_tenant t ON t.id = k.tenant_id",
            [prefix],
        )
        row = cursor.fetchone()
    if row is None or not api_keys.matches(secret, row[2]):
        raise AuthenticationFailed(_INVALID)
    key_id, public_id, _, scopes, expires_at, revoked_at, last_used_at = row[:7]
    now = timezone.now()
    if revoked_at is not None:
        raise AuthenticationFailed("This API key has been revoked.", code="api_key_revoked")
    if expires_at is not None and expires_at <= now:
        raise AuthenticationFailed("This API key has expired.", code="api_key_expired")
    tenant = Tenant.from_db(connection.alias, _TENANT_FIELDS, row[7:])
    if last_used_at is None or now - last_used_at >= LAST_USED_RESOLUTION:
        _touch(tenant, key_id, now)
    return ApiPrincipal(
        tenant=tenant, api_key_id=key_id, api_key_public_id=public_id, scopes=frozenset(scopes)
    )


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: Bearer <api key>`` → the key's :class:`ApiPrincipal`.

    No header answers None (the view then refuses with ``missing_api_key``); a
    header that does not name a live key is a 401 at once, and counts against
    the client's failures.
    """

    def authenticate(self, request) -> tuple[ApiPrincipal, None] | None:
        header = request.headers.get("Authorization", "")
        if not header:
            return None
        client = ratelimit.client_ip(request)
        FAILED_AUTHENTICATIONS.check(client)
        try:
            return authenticate(header), None
        except AuthenticationFailed:
            FAILED_AUTHENTICATIONS.record(client)
            raise

    def authenticate_header(self, request) -> str:
        return "Bearer"


def _touch(tenant: Tenant, key_id: int, now) -> None:
    # At most one write a minute per key, and concurrent requests race harmlessly.
    with tenant_context(tenant):
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
        ApiKey.objects.filter(stale, pk=key_id).update(last_used_at=now)
