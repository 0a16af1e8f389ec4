"""``/v1/billing``: the billing account, the spend cap and per-key quotas over HTTP, and their
effect on the next billable request."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from billing.ledger.periods import period_containing
from billing.models import ApiKeyQuota, BillingAccount
from billing.pricing.price_book import IMAGES_BASE, IMAGES_FINETUNED
from billing.spend.enforcement import ensure_billable
from core.errors import BillingError
from tenants.models import AuditEvent
from tests.billing.helpers import record
from tests.factories import make_tenant
from tests.images import png


def a_minute_ago():
    return timezone.now() - timedelta(minutes=1)


def spend_settings(handle):
    """Everything a spend-setting call may change in ``handle``'s tenant."""
    with handle.context():
        return (
            list(BillingAccount.objects.values_list("spend_cap_minor", flat=True)),
            sorted(ApiKeyQuota.objects.values_list("api_key_ref", "meter", "monthly_limit")),
            AuditEvent.objects.count(),
        )


def test_the_account_shows_plan_cap_charges_projection_and_quotas(tenant_a):
    key = tenant_a.key.public_id
    record(tenant_a, IMAGES_BASE, 2_000, a_minute_ago(), api_key_ref=key)  # 100 cents
    put = tenant_a.client.put(
        "/v1/billing/quotas",
        {"api_key": key, "meter": IMAGES_BASE, "monthly_limit": 5_000},
        format="json",
    )
    assert put.status_code == 200, put.content

    body = tenant_a.client.get("/v1/billing").json()

    period = period_containing(timezone.now())
    assert (body["object"], body["plan"], body["status"], body["currency"]) == (
        "billing_account",
        "payg",
        "active",
        "usd",
    )
    assert body["current_period"]["start"].startswith(period.start.strftime("%Y-%m-01T00:00:00"))
    assert (body["spend_cap"], body["spend_cap_source"], body["plan_spend_cap"]) == (
        100_000,
        "plan",
        100_000,
    )
    assert body["usage_charges"] == body["amount_so_far"] == 100
    assert body["projected_amount"] >= body["amount_so_far"]
    assert [(q["api_key"], q["meter"], q["monthly_limit"], q["used"]) for q in body["quotas"]] == [
        (key, IMAGES_BASE, 5_000, 2_000)
    ]
    assert body["quotas"][0]["id"].startswith("kq_") and body["past_due_since"] is None


def test_an_admin_sets_the_cap_and_null_brings_back_the_plans(tenant_a):
    response = tenant_a.client.patch("/v1/billing", {"spend_cap": 2_500}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["spend_cap"], response.json()["spend_cap_source"]) == (
        2_500,
        "account",
    )
    reset = tenant_a.client.patch("/v1/billing", {"spend_cap": None}, format="json").json()
    assert (reset["spend_cap"], reset["spend_cap_source"]) == (100_000, "plan")
    with tenant_a.context():
        changes = AuditEvent.objects.filter(action="billing.spend_cap_set").order_by("pk")
        assert [(e.actor, e.data["spend_cap_minor"]) for e in changes] == [
            (f"key:{tenant_a.key.public_id}", 2_500),
            (f"key:{tenant_a.key.public_id}", None),
        ]


@pytest.mark.parametrize("cap", ["100", 12.5, 12.0, -1, True, False, [1], {"amount": 1}])
def test_a_cap_that_is_not_a_non_negative_integer_is_400_and_changes_nothing(tenant_a, cap):
    tenant_a.client.patch("/v1/billing", {"spend_cap": 700}, format="json")
    before = spend_settings(tenant_a)
    response = tenant_a.client.patch("/v1/billing", {"spend_cap": cap}, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", "spend_cap")
    assert spend_settings(tenant_a) == before


def test_a_patch_without_a_cap_leaves_it_alone(tenant_a):
    tenant_a.client.patch("/v1/billing", {"spend_cap": 700}, format="json")
    before = spend_settings(tenant_a)
    response = tenant_a.client.patch("/v1/billing", {}, format="json")
    assert response.status_code == 200 and response.json()["spend_cap"] == 700
    assert spend_settings(tenant_a) == before


def test_spend_settings_are_json_only(tenant_a):
    before = spend_settings(tenant_a)
    form = tenant_a.client.patch("/v1/billing", {"spend_cap": "1"}, format="multipart")
    assert form.status_code == 415
    assert spend_settings(tenant_a) == before


def test_a_quota_is_set_replaced_and_lifted_and_the_list_is_returned(tenant_a):
    key, _ = tenant_a.new_key(["predict"])
    put = lambda limit, meter=IMAGES_BASE: tenant_a.client.put(  # noqa: E731
        "/v1/billing/quotas",
        {"api_key": key.public_id, "meter": meter, "monthly_limit": limit},
        format="json",
    ).json()
    assert [(q["meter"], q["monthly_limit"]) for q in put(10)["data"]] == [(IMAGES_BASE, 10)]
    put(20)
    listed = put(5, IMAGES_FINETUNED)
    assert listed["object"] == "list" and listed["has_more"] is False
    assert [(q["meter"], q["monthly_limit"]) for q in listed["data"]] == [
        (IMAGES_BASE, 20),
        (IMAGES_FINETUNED, 5),
    ]
    assert [q["meter"] for q in put(None)["data"]] == [IMAGES_FINETUNED]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"meter": "gpu_minutes", "monthly_limit": 1}, "meter"),
        ({"meter": IMAGES_BASE, "monthly_limit": -1}, "monthly_limit"),
        ({"meter": IMAGES_BASE, "monthly_limit": "10"}, "monthly_limit"),
        ({"meter": IMAGES_BASE}, "monthly_limit"),
    ],
)
def test_a_bad_quota_is_400_with_its_param_and_changes_nothing(tenant_a, body, param):
    before = spend_settings(tenant_a)
    response = tenant_a.client.put(
        "/v1/billing/quotas", {"api_key": tenant_a.key.public_id, **body}, format="json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["param"] == param
    assert spend_settings(tenant_a) == before


def test_another_tenants_key_is_404_like_a_missing_one(tenant_a, tenant_b):
    before = spend_settings(tenant_a), spend_settings(tenant_b)
    answers = [
        tenant_b.client.put(
            "/v1/billing/quotas",
            {"api_key": key_id, "meter": IMAGES_BASE, "monthly_limit": 1},
            format="json",
        )
        for key_id in (tenant_a.key.public_id, "key_doesnotexist0000000000")
    ]
    assert [r.status_code for r in answers] == [404, 404]
    assert {r.json()["error"]["param"] for r in answers} == {"api_key"}
    assert (spend_settings(tenant_a), spend_settings(tenant_b)) == before


def test_a_tenant_sees_and_changes_only_its_own_account(tenant_a, tenant_b):
    tenant_a.client.put(
        "/v1/billing/quotas",
        {"api_key": tenant_a.key.public_id, "meter": IMAGES_BASE, "monthly_limit": 9},
        format="json",
    )
    record(tenant_a, IMAGES_BASE, 2_000, a_minute_ago())
    before = spend_settings(tenant_a)
    assert tenant_b.client.patch("/v1/billing", {"spend_cap": 1}, format="json").status_code == 200
    body = tenant_b.client.get("/v1/billing").json()
    assert (body["quotas"], body["usage_charges"], body["spend_cap"]) == ([], 0, 1)
    assert spend_settings(tenant_a) == before


def test_changing_spend_settings_needs_the_admin_scope(tenant_a):
    _, reader = tenant_a.new_key(["read", "predict", "train"])
    before = spend_settings(tenant_a)
    assert reader.get("/v1/billing").status_code == 200
    assert reader.patch("/v1/billing", {"spend_cap": 1}, format="json").status_code == 403
    quota = {"api_key": tenant_a.key.public_id, "meter": IMAGES_BASE, "monthly_limit": 1}
    assert reader.put("/v1/billing/quotas", quota, format="json").status_code == 403
    assert spend_settings(tenant_a) == before


# --- the effect on the next request (real commits: the cache is dropped on commit) --------


def predict(handle, model_id: str, images: int = 1):
    image = base64.b64encode(png()).decode()
    return handle.client.post(
        f"/v1/models/{model_id}/predict",
        {"inputs": [{"image_base64": image}] * images},
        format="json",
    )


def assert_refused(response, code: str) -> None:
    assert response.status_code == 402, response.content
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("billing_error", code)


@pytest.fixture
def fail_fast(settings):
    # Should a predict be admitted after all, fail in a second, not wait for a worker.
    settings.INFERENCE_SYNC_TIMEOUT_S = 1


def test_a_cap_set_over_http_refuses_the_next_predict_that_would_cross_it(
    live_a, live_base_model, fail_fast
):
    tenant = live_a.tenant
    record(live_a, IMAGES_BASE, 1_990, a_minute_ago())  # 99.5 cents
    ensure_billable(tenant, meter=IMAGES_BASE, quantity=100)  # warm: the plan's cap is cached

    assert live_a.client.patch("/v1/billing", {"spend_cap": 100}, format="json").status_code == 200

    ensure_billable(tenant, meter=IMAGES_BASE, quantity=10)  # exactly 100 cents: allowed
    assert_refused(predict(live_a, live_base_model.public_id, 11), "spend_cap_exceeded")
    live_a.client.patch("/v1/billing", {"spend_cap": None}, format="json")
    ensure_billable(tenant, meter=IMAGES_BASE, quantity=11)  # the plan's cap again


def test_a_quota_set_over_http_refuses_the_next_predict_through_that_key(
    live_a, live_base_model, fail_fast
):
    key = live_a.key.public_id
    record(live_a, IMAGES_BASE, 45, a_minute_ago(), api_key_ref=key)
    ensure_billable(live_a.tenant, meter=IMAGES_BASE, quantity=1, api_key_ref=key)  # warm

    quota = {"api_key": key, "meter": IMAGES_BASE, "monthly_limit": 50}
    assert live_a.client.put("/v1/billing/quotas", quota, format="json").status_code == 200

    ensure_billable(live_a.tenant, meter=IMAGES_BASE, quantity=5, api_key_ref=key)
    assert_refused(predict(live_a, live_base_model.public_id, 6), "api_key_quota_exceeded")
    other, _ = live_a.new_key(["predict"])
    ensure_billable(live_a.tenant, meter=IMAGES_BASE, quantity=6, api_key_ref=other.public_id)


def test_an_own_cap_above_the_plans_is_refused_and_changes_nothing(tenant_a):
    before = spend_settings(tenant_a)
    response = tenant_a.client.patch("/v1/billing", {"spend_cap": 100_001}, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("spend_cap_above_plan", "spend_cap")
    assert "at most 100000" in error["message"]
    assert spend_settings(tenant_a) == before
    at_the_plans = tenant_a.client.patch("/v1/billing", {"spend_cap": 100_000}, format="json")
    assert at_the_plans.status_code == 200


def test_an_uncapped_plan_accepts_any_own_cap(db):
    committed = make_tenant("Big", plan="committed")
    response = committed.client.patch("/v1/billing", {"spend_cap": 10**12}, format="json")
    assert response.status_code == 200 and response.json()["spend_cap"] == 10**12


def test_a_free_tenant_cannot_lift_its_cap_and_is_refused_at_its_allowance(
    live_base_model, fail_fast, transactional_db
):
    free = make_tenant("Freebie", plan="free")
    lifted = free.client.patch("/v1/billing", {"spend_cap": 10**9}, format="json")
    assert lifted.status_code == 400
    record(free, IMAGES_BASE, 5_000, a_minute_ago())  # the whole allowance
    assert_refused(predict(free, live_base_model.public_id, 1), "spend_cap_exceeded")


def test_a_cap_stored_above_the_plans_does_not_lift_admission(db):
    free = make_tenant("Freebie", plan="free")
    with free.context():  # as a cap set before caps could only be lowered
        BillingAccount.objects.create(tenant=free.tenant, spend_cap_minor=10**9)
    record(free, IMAGES_BASE, 5_000, a_minute_ago())
    with pytest.raises(BillingError, match="spend cap"):
        ensure_billable(free.tenant, meter=IMAGES_BASE, quantity=1)
    assert free.client.get("/v1/billing").json()["spend_cap"] == 0
