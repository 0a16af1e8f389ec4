"""Spend controls through the SDK and the CLI against the live app: the billing account,
its spend cap and per-key quotas (reading needs ``read``, changing needs ``admin``)."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone
from modelhouse import Client, InvalidRequestError, NotFoundError, PermissionDeniedError
from modelhouse.cli import main

from billing.pricing.price_book import get_plan
from tests.billing.helpers import record


@pytest.fixture
def reader(client, live_server):
    """A client whose key has the ``read`` scope only."""
    key = client.api_keys.create("reader", ["read"])
    with Client(key.secret, base_url=live_server.url) as sdk:
        yield sdk


@pytest.fixture
def cli_env(live_server, live_a, monkeypatch):
    monkeypatch.setenv("MODELHOUSE_API_KEY", live_a.secret)
    monkeypatch.setenv("MODELHOUSE_BASE_URL", live_server.url)


def test_retrieve_the_account_of_a_fresh_organisation(client, live_a):
    account = client.billing.retrieve()
    plan = get_plan(live_a.tenant.plan)
    assert (account.plan, account.status, account.currency) == (plan.code, "active", plan.currency)
    assert account.past_due_since is None
    assert (account.spend_cap, account.spend_cap_source) == (plan.monthly_spend_cap_minor, "plan")
    assert account.plan_spend_cap == plan.monthly_spend_cap_minor
    assert account.usage_charges == account.amount_so_far == account.projected_amount == 0
    period = account.current_period
    assert period.start.tzinfo is not None and period.start <= timezone.now() < period.end
    assert account.quotas == [] and account.raw["object"] == "billing_account"


def test_a_spend_cap_set_is_what_the_next_retrieve_shows_until_it_is_cleared(client):
    plan_cap = client.billing.retrieve().plan_spend_cap
    answered = client.billing.set_spend_cap(5000)
    assert (answered.spend_cap, answered.spend_cap_source) == (5000, "account")
    again = client.billing.retrieve()
    assert (again.spend_cap, again.spend_cap_source, again.plan_spend_cap) == (
        5000,
        "account",
        plan_cap,
    )

    assert client.billing.set_spend_cap(0).spend_cap == 0  # a cap of nothing is a cap
    cleared = client.billing.set_spend_cap(None)
    assert (cleared.spend_cap, cleared.spend_cap_source) == (plan_cap, "plan")
    assert client.billing.retrieve().spend_cap_source == "plan"


def test_a_key_quota_is_set_counted_and_lifted(client, live_a):
    other = client.api_keys.create("batch jobs", ["predict"])
    quotas = client.billing.set_key_quota(other.id, "images_base", 1000)
    (quota,) = quotas
    assert not quotas.has_more
    assert quota.id and quota.raw["object"] == "api_key_quota"
    assert (quota.api_key, quota.meter, quota.monthly_limit, quota.used) == (
        other.id,
        "images_base",
        1000,
        0,
    )

    record(live_a, "images_base", 40, timezone.now(), api_key_ref=other.id)
    client.billing.set_key_quota(live_a.key.public_id, "training_seconds", 3600)
    raised = client.billing.set_key_quota(other.id, "images_base", 2000)
    assert {(q.api_key, q.meter, q.monthly_limit) for q in raised} == {
        (other.id, "images_base", 2000),
        (live_a.key.public_id, "training_seconds", 3600),
    }
    (seen,) = [q for q in client.billing.retrieve().quotas if q.api_key == other.id]
    assert (seen.monthly_limit, seen.used) == (2000, 40)

    client.billing.set_key_quota(live_a.key.public_id, "training_seconds", None)
    lifted = client.billing.set_key_quota(other.id, "images_base", None)
    assert list(lifted) == [] and client.billing.retrieve().quotas == []


def test_a_read_only_key_reads_the_account_but_cannot_change_it(client, reader):
    assert reader.billing.retrieve().spend_cap_source == "plan"
    with pytest.raises(PermissionDeniedError) as denied:
        reader.billing.set_spend_cap(100)
    assert (denied.value.status, denied.value.code) == (403, "insufficient_scope")
    with pytest.raises(PermissionDeniedError):
        reader.billing.set_key_quota(client.api_keys.list().data[0].id, "images_base", 1)
    account = client.billing.retrieve()
    assert account.spend_cap_source == "plan" and account.quotas == []  # nothing changed


def test_bad_settings_are_typed_invalid_request_errors_that_change_nothing(client, live_b):
    with pytest.raises(InvalidRequestError) as negative:
        client.billing.set_spend_cap(-1)
    assert (negative.value.status, negative.value.param) == (400, "spend_cap")
    assert negative.value.request_id

    own_key = client.api_keys.list().data[0].id
    with pytest.raises(InvalidRequestError) as meter:
        client.billing.set_key_quota(own_key, "gpu_hours", 10)
    assert meter.value.param == "meter"
    with pytest.raises(InvalidRequestError) as limit:
        client.billing.set_key_quota(own_key, "images_base", -5)
    assert limit.value.param == "monthly_limit"
    # Another organisation's key is no key at all.
    with pytest.raises(NotFoundError) as foreign:
        client.billing.set_key_quota(live_b.key.public_id, "images_base", 10)
    assert foreign.value.param == "api_key"

    account = client.billing.retrieve()
    assert account.spend_cap_source == "plan" and account.quotas == []


def test_cli_shows_the_account_and_sets_the_cap(cli_env, client, capsys):
    assert main(["billing"]) == 0
    out = capsys.readouterr().out
    assert "PLAN" in out and "AMOUNT_SO_FAR" in out and "PROJECTED" in out

    assert main(["billing", "set-cap", "5000", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["object"], shown["spend_cap"], shown["spend_cap_source"]) == (
        "billing_account",
        5000,
        "account",
    )
    assert client.billing.retrieve().spend_cap == 5000

    assert main(["billing", "--json", "set-cap", "none"]) == 0  # --json before set-cap counts
    assert json.loads(capsys.readouterr().out)["spend_cap_source"] == "plan"


def test_cli_sets_a_key_quota(cli_env, client, live_a, capsys):
    key = live_a.key.public_id
    assert main(["billing", "set-quota", key, "images_finetuned", "250"]) == 0
    assert "images_finetuned" in capsys.readouterr().out
    assert main(["billing", "--json"]) == 0
    (quota,) = json.loads(capsys.readouterr().out)["quotas"]
    assert (quota["api_key"], quota["monthly_limit"]) == (key, 250)
    assert main(["billing", "set-quota", key, "images_finetuned", "none", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_cli_refuses_a_cap_that_is_not_a_number_and_reports_api_errors(
    cli_env, client, live_server, monkeypatch, capsys
):
    with pytest.raises(SystemExit) as usage_error:
        main(["billing", "set-cap", "lots"])
    assert usage_error.value.code == 2

    assert main(["billing", "set-cap", "-5"]) == 1
    err = capsys.readouterr().err
    assert "400 invalid_request_error" in err and "spend_cap" in err and "[request req_" in err

    monkeypatch.setenv("MODELHOUSE_API_KEY", client.api_keys.create("r", ["read"]).secret)
    assert main(["billing", "set-cap", "100"]) == 1
    assert "403 permission_error/insufficient_scope" in capsys.readouterr().err
    assert client.billing.retrieve().spend_cap_source == "plan"
