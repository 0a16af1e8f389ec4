from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import Conflict, NotFound, PermissionDenied
from tenants import services
from tenants.models import Invitation, Membership, User
from tenants.roles import Permission, Role, role_allows


def _invite(handle, email="dev@example.test", role="developer"):
    with handle.context():
        return services.invitation_create(handle.tenant, actor=handle.owner, email=email, role=role)


def test_invitation_is_accepted_once(tenant_a):
    issued = _invite(tenant_a)
    user = User.objects.create_user("dev@example.test")
    membership = services.invitation_accept(token=issued.token, user=user)
    assert membership.role == "developer" and membership.tenant_id == tenant_a.tenant.pk
    with pytest.raises(Conflict, match="already been used"):
        services.invitation_accept(token=issued.token, user=user)


def test_only_the_digest_of_the_token_is_stored(tenant_a):
    issued = _invite(tenant_a)
    with tenant_a.context():
        stored = Invitation.objects.get(pk=issued.invitation.pk)
    assert issued.token.split(".")[1] not in stored.token_digest


def test_expired_invitation_is_refused(tenant_a):
    issued = _invite(tenant_a)
    with tenant_a.context():
        Invitation.objects.filter(pk=issued.invitation.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    user = User.objects.create_user("dev@example.test")
    with pytest.raises(Conflict, match="expired"):
        services.invitation_accept(token=issued.token, user=user)
    with tenant_a.context():
        assert not Membership.objects.filter(user=user).exists()


def test_invitation_for_someone_else_is_refused(tenant_a):
    issued = _invite(tenant_a)
    intruder = User.objects.create_user("intruder@example.test")
    with pytest.raises(PermissionDenied):
        services.invitation_accept(token=issued.token, user=intruder)


def test_forged_token_for_another_tenant_finds_nothing(tenant_a, tenant_b):
    issued = _invite(tenant_a)
    forged = f"{tenant_b.tenant.public_id}.{issued.token.split('.')[1]}"
    user = User.objects.create_user("dev@example.test")
    with pytest.raises(NotFound):
        services.invitation_accept(token=forged, user=user)


def test_permission_matrix():
    assert role_allows(Role.FINANCE, Permission.INVOICES_READ)
    assert not role_allows(Role.FINANCE, Permission.DATASETS_READ)
    assert not role_allows(Role.FINANCE, Permission.MODELS_READ)
    assert role_allows(Role.DEVELOPER, Permission.KEYS_MANAGE)
    assert not role_allows(Role.DEVELOPER, Permission.MEMBERS_MANAGE)
    assert not role_allows(Role.DEVELOPER, Permission.BILLING_MANAGE)
    assert role_allows(Role.ADMIN, Permission.MEMBERS_MANAGE)
    assert not role_allows(Role.VIEWER, Permission.DATASETS_MANAGE)


def test_role_changes_are_audited(tenant_a):
    from tenants.models import AuditEvent

    user = User.objects.create_user("dev@example.test")
    with tenant_a.context():
        services.membership_set_role(
            tenant_a.tenant, actor=tenant_a.owner, user=user, role="finance"
        )
        membership = services.membership_set_role(
            tenant_a.tenant, actor=tenant_a.owner, user=user, role="viewer"
        )
        assert membership.role == "viewer"
        assert AuditEvent.objects.filter(action="membership.role_set").count() == 2


def test_a_person_sees_their_own_memberships_across_organisations(tenant_a, tenant_b):
    from django.db import connection

    from core.context import user_context

    user = User.objects.create_user("both@example.test")
    for handle in (tenant_a, tenant_b):
        with handle.context():
            services.membership_set_role(
                handle.tenant, actor=handle.owner, user=user, role="viewer"
            )
    with user_context(user.pk), connection.cursor() as cursor:
        cursor.execute("SELECT tenant_id FROM tenants_membership ORDER BY tenant_id")
        assert [row[0] for row in cursor.fetchall()] == [tenant_a.tenant.pk, tenant_b.tenant.pk]
    with connection.cursor() as cursor:  # no user, no tenant: nothing
        cursor.execute("SELECT count(*) FROM tenants_membership")
        assert cursor.fetchone() == (0,)
