from inference.models import ModelVersion
from tenants.models import AuditEvent
from tests.factories import make_model_version


def test_models_list_shows_base_models_and_own_versions(tenant_a, tenant_b, base_model):
    mine = make_model_version(tenant_a, base_model)
    make_model_version(tenant_b, base_model)
    data = tenant_a.client.get("/v1/models").json()["data"]
    ids = [row["id"] for row in data]
    assert ids == [base_model.public_id, mine.public_id]
    assert data[0]["kind"] == "base" and data[0]["input"]["shape"] == [64, 64, 3]
    assert data[1]["active"] is True and data[1]["name"] == "pets:1"


def test_pages_of_models_never_exceed_limit_and_walk_every_model_once(tenant_a, base_model):
    versions = [make_model_version(tenant_a, base_model, seed=seed) for seed in range(3)]
    expected = [base_model.public_id, *(v.public_id for v in reversed(versions))]

    seen, cursor = [], None
    while True:
        query = "?limit=2" + (f"&starting_after={cursor}" if cursor else "")
        page = tenant_a.client.get(f"/v1/models{query}").json()
        assert 1 <= len(page["data"]) <= 2
        seen += [row["id"] for row in page["data"]]
        if not page["has_more"]:
            break
        cursor = seen[-1]
    assert seen == expected
    first = tenant_a.client.get("/v1/models?limit=1").json()
    assert [row["id"] for row in first["data"]] == [base_model.public_id] and first["has_more"]


def test_a_model_shows_its_family_version_and_source(tenant_a, base_model):
    version = make_model_version(tenant_a, base_model)
    shown = tenant_a.client.get(f"/v1/models/{version.public_id}").json()
    assert (shown["family"], shown["version"], shown["source"]) == (
        "pets",
        version.version,
        version.source,
    )
    base = tenant_a.client.get(f"/v1/models/{base_model.public_id}").json()
    assert (base["family"], base["version"], base["source"]) == (None, None, None)


def test_model_detail_by_id_alias_and_base_name(tenant_a, base_model):
    version = make_model_version(tenant_a, base_model)
    for model_id in (version.public_id, "pets"):
        assert tenant_a.client.get(f"/v1/models/{model_id}").json()["id"] == version.public_id
    assert tenant_a.client.get(f"/v1/models/{base_model.name}").json()["id"] == base_model.public_id


def test_activation_switches_the_alias_and_keeps_the_old_version(tenant_a, base_model):
    first = make_model_version(tenant_a, base_model)
    second = make_model_version(tenant_a, base_model, seed=1)
    assert tenant_a.client.get("/v1/models/pets").json()["id"] == first.public_id
    response = tenant_a.client.post(f"/v1/models/{second.public_id}/activate")
    assert response.status_code == 200 and response.json()["active"] is True
    assert tenant_a.client.get("/v1/models/pets").json()["id"] == second.public_id
    with tenant_a.context():
        assert ModelVersion.objects.get(pk=first.pk).is_active is False
        event = AuditEvent.objects.get(action="model.activated")
    assert event.data == {"family": "pets", "previous": [first.public_id]}
    # rollback is one more activation
    tenant_a.client.post(f"/v1/models/{first.public_id}/activate")
    assert tenant_a.client.get("/v1/models/pets").json()["id"] == first.public_id


def test_activation_needs_the_train_scope(tenant_a, base_model):
    version = make_model_version(tenant_a, base_model)
    _, client = tenant_a.new_key(["predict", "read"])
    assert client.post(f"/v1/models/{version.public_id}/activate").status_code == 403


def test_a_family_may_not_take_a_base_model_name(tenant_a, base_model):
    import pytest

    from core.errors import InvalidRequest

    with pytest.raises(InvalidRequest, match="name of a base model"):
        make_model_version(tenant_a, base_model, family=base_model.name)
