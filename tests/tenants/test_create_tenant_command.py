from io import StringIO

import pytest
from django.core.management import call_command

from tests.factories import api_client


@pytest.mark.django_db
def test_create_tenant_prints_org_id_and_a_working_key():
    out = StringIO()
    call_command(
        "create_tenant",
        "--name",
        "Initech",
        "--owner-email",
        "boss@initech.test",
        "--api-key",
        stdout=out,
    )
    lines = out.getvalue().split()
    assert lines[0].startswith("org_")
    response = api_client(lines[-1]).get("/v1/api-keys")
    assert response.status_code == 200
    assert sorted(response.json()["data"][0]["scopes"]) == ["admin", "predict", "read", "train"]
