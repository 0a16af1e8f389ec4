"""Only the cross-tenant role reads across tenants: nothing the app role can run lifts
row-level security (it used to be one session setting away, ``app.unscoped``), and
``tenants.scoping.unscoped()`` reads through that role's own connection."""

from __future__ import annotations

import pytest
from django.db import connection, connections
from django.db.utils import ProgrammingError

from core.db import CROSS_TENANT
from tenants.models import ApiKey
from tenants.scoping import unscoped

pytestmark = pytest.mark.django_db(transaction=True)


def test_no_setting_the_app_role_can_set_shows_it_another_tenant(tenant_a, tenant_b):
    # As injected SQL would: the setting, then the read, in one transaction.
    with connection.cursor() as cursor:
        for name in ("app.unscoped", "app.cross_tenant"):
            cursor.execute(
                f"SELECT set_config('{name}', 'on', true); SELECT count(*) FROM tenants_apikey"
            )
            assert cursor.fetchone()[0] == 0, name
        with pytest.raises(ProgrammingError, match="row-level security"):
            cursor.execute("SET row_security = off; SELECT count(*) FROM tenants_apikey")


def test_the_app_role_cannot_become_the_cross_tenant_role(tenant_a):
    role = connections[CROSS_TENANT].settings_dict["USER"]
    with pytest.raises(ProgrammingError, match="permission denied"), connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{role}"')


def test_unscoped_reads_every_tenant_through_the_cross_tenant_connection(tenant_a, tenant_b):
    with tenant_a.context():
        assert ApiKey.objects.count() == 1
    with unscoped(reason="test: both tenants' keys"):
        assert ApiKey.objects.count() == 2
        assert ApiKey.objects.all().db == CROSS_TENANT
