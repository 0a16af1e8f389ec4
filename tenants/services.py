"""Writes for organisations, members, invitations and API keys.

Each service takes the tenant first, is atomic and leaves an audit row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.context import tenant_context
from core.errors import Conflict, InvalidRequest, NotFound, PermissionDenied
from core.ids import random_token
from tenants import api_keys
from tenants.audit import audit
from tenants.models import ApiKey, Invitation, Membership, Tenant, User
from tenants.roles import Role, Scope


@transaction.atomic
def tenant_create(*, name: str, owner_email: str, plan: str = "payg") -> tuple[Tenant, User]:
    """A new organisation with its owner (created if the e-mail is new)."""
    if not name.strip():
        raise InvalidRequest("The organisation needs a name.", param="name")
    user, _ = User.objects.get_or_create(email=owner_email.strip().lower())
    tenant = Tenant.objects.create(name=name.strip(), plan=plan)
    with tenant_context(tenant):
        Membership.objects.create(tenant=tenant, user=user, role=Role.OWNER)
        audit(
            tenant,
            actor="system",
            action="tenant.created",
            target=tenant.public_id,
            name=tenant.name,
            plan=plan,
            owner=user.email,
        )
    return tenant, user


@transaction.atomic
def membership_set_role(tenant: Tenant, *, actor, user: User, role: str) -> Membership:
    Role(role)
    membership, _ = Membership.objects.update_or_create(
        tenant=tenant, user=user, defaults={"role": role}
    )
    audit(
        tenant,
        actor=actor,
        action="membership.role_set",
        target=membership.public_id,
        user=user.email,
        role=role,
    )
    return membership


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    token: str  # e-mailed once; only its digest is stored


@transaction.atomic
def invitation_create(tenant: Tenant, *, actor: User, email: str, role: str) -> IssuedInvitation:
    if role not in Role.__members__.values():
        raise InvalidRequest(f"Unknown role '{role}'.", param="role")
    if role == Role.OWNER:
        raise PermissionDenied("Owners cannot be invited; promote a member instead.")
    # The organisation id travels in the token so accepting it needs no
    # cross-tenant look-up.
    token = f"{tenant.public_id}.{random_token(40)}"
    invitation = Invitation.objects.create(
        tenant=tenant,
        email=email.strip().lower(),
        role=role,
        token_digest=_token_digest(token),
        invited_by=actor,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    audit(
        tenant,
        actor=actor,
        action="invitation.created",
        target=invitation.public_id,
        email=invitation.email,
        role=role,
    )
    return IssuedInvitation(invitation=invitation, token=token)


def invitation_accept(*, token: str, user: User) -> Membership:
    """Single use, before expiry, by the invited e-mail address."""
    org_id, _, _ = token.partition(".")
    tenant = Tenant.objects.filter(public_id=org_id).first()
    if tenant is None:
        raise NotFound("This invitation does not exist.", code="invitation_invalid")
    with tenant_context(tenant), transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update().filter(token_digest=_token_digest(token)).first()
        )
        if invitation is None:
            raise NotFound("This invitation does not exist.", code="invitation_invalid")
        if invitation.accepted_at is not None:
            raise Conflict("This invitation has already been used.", code="invitation_used")
        if invitation.expires_at <= timezone.now():
            raise Conflict("This invitation has expired.", code="invitation_expired")
        if invitation.email != user.email:
            raise PermissionDenied(
                "This invitation was sent to another e-mail address.", code="invitation_wrong_user"
            )
        membership, _ = Membership.objects.get_or_create(
            tenant=tenant, user=user, defaults={"role": invitation.role}
        )
        invitation.accepted_at, invitation.accepted_by = timezone.now(), user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        audit(
            tenant,
            actor=user,
            action="invitation.accepted",
            target=invitation.public_id,
            role=membership.role,
        )
        return membership


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str  # shown once, never stored


def _validate_scopes(scopes: list[str]) -> list[str]:
    if not scopes:
        raise InvalidRequest("Give at least one scope.", param="scopes")
    unknown = sorted(set(scopes) - {scope.value for scope in Scope})
    if unknown:
        raise InvalidRequest(f"Unknown scope(s): {', '.join(unknown)}.", param="scopes")
    return sorted(set(scopes))


@transaction.atomic
def api_key_create(
    tenant: Tenant, *, actor, name: str, scopes: list[str], expires_at: datetime | None = None
) -> CreatedKey:
    scopes = _validate_scopes(scopes)
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidRequest("expires_at must be in the future.", param="expires_at")
    for _ in range(3):  # a prefix collision is astronomically unlikely; retry anyway
        new = api_keys.generate(settings.API_KEY_ENVIRONMENT)
        try:
            with transaction.atomic():
                key = ApiKey.objects.create(
                    tenant=tenant,
                    name=name,
                    prefix=new.prefix,
                    digest=new.digest,
                    scopes=scopes,
                    expires_at=expires_at,
                    created_by=actor if isinstance(actor, User) else None,
                )
            break
        except IntegrityError:
            continue
    else:
        raise RuntimeError("could not allocate a unique API key prefix")
    audit(
        tenant,
        actor=actor,
        action="api_key.created",
        target=key.public_id,
        name=name,
        scopes=scopes,
        prefix=key.prefix,
    )
    return CreatedKey(key=key, secret=new.secret)


@transaction.atomic
def api_key_revoke(tenant: Tenant, *, actor, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit(tenant, actor=actor, action="api_key.revoked", target=key.public_id)
    return key
