"""Organisations, people, API keys and the audit trail."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from core.ids import new_public_id
from core.models import TenantOwnedModel, public_id_constraint
from tenants.roles import Role


class UserManager(BaseUserManager):
    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        return self.create_user(email, password, is_staff=True, is_superuser=True, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person; global (one person may belong to several organisations)."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"

    def __str__(self) -> str:
        return self.email


def _org_id() -> str:
    return new_public_id("org")


class Tenant(models.Model):
    """An organisation: the unit of isolation and billing.  Global table."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        PAST_DUE = "past_due"
        SUSPENDED = "suspended"

    public_id = models.CharField(max_length=40, unique=True, default=_org_id, editable=False)
    name = models.CharField(max_length=200)
    plan = models.CharField(max_length=40, default="payg")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.public_id})"


class Membership(TenantOwnedModel):
    PUBLIC_ID_PREFIX = "mem"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=[(r.value, r.value) for r in Role])

    class Meta:
        constraints = [
            public_id_constraint("membership"),
            models.UniqueConstraint(fields=["tenant", "user"], name="membership_tenant_user_uniq"),
        ]
        indexes = [models.Index(fields=["user"], name="membership_user_idx")]


class Invitation(TenantOwnedModel):
    """A single-use invitation; only the SHA-256 digest of its token is stored."""

    PUBLIC_ID_PREFIX = "invt"

    email = models.EmailField()
    role = models.CharField(max_length=20, choices=[(r.value, r.value) for r in Role])
    token_digest = models.CharField(max_length=64)
    invited_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            public_id_constraint("invitation"),
            models.UniqueConstraint(
                fields=["tenant", "token_digest"], name="invitation_tenant_digest_uniq"
            ),
        ]


class ApiKey(TenantOwnedModel):
    """An API key: a public prefix for look-up plus the SHA-256 digest of the secret."""

    PUBLIC_ID_PREFIX = "key"

    name = models.CharField(max_length=100)
    # Globally unique so authentication can find the key before the tenant is
    # known; the prefix is random, so uniqueness reveals nothing.
    prefix = models.CharField(max_length=40, unique=True)
    digest = models.CharField(max_length=64)
    scopes = ArrayField(models.CharField(max_length=20))
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [public_id_constraint("apikey")]
        indexes = [models.Index(fields=["tenant", "-id"], name="apikey_tenant_list_idx")]


class AuditEvent(TenantOwnedModel):
    """One row per state change of a tenant's data: who, what, when.  Append-only: the
    app may add rows, never change or delete them (tenants.rls)."""

    PUBLIC_ID_PREFIX = "evt"
    APPEND_ONLY = True

    actor = models.CharField(max_length=80)  # "user:<id>", "key:<public id>", "system"
    action = models.CharField(max_length=80)
    target = models.CharField(max_length=80, blank=True)
    data = models.JSONField(default=dict)

    class Meta:
        constraints = [public_id_constraint("auditevent")]
        indexes = [models.Index(fields=["tenant", "-id"], name="audit_tenant_list_idx")]


class UnscopedAccess(models.Model):
    """Every deliberate cross-tenant read (tenants.scoping.unscoped).  Global table,
    append-only like the audit trail."""

    APPEND_ONLY = True

    reason = models.CharField(max_length=200)
    actor = models.CharField(max_length=80)
    tenant_in_context = models.BigIntegerField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.actor}: {self.reason}"
