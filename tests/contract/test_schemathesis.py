"""Schemathesis against the live app with a real key: generated requests for every
operation must get no server error and only answers that match the document
(status, content type, headers, body).

About half the cases name real objects of the tenant in their path, so the success
answers of retrieve, cancel and delete are checked too, not only their 404s.
Bounded: ``MAX_EXAMPLES`` cases per operation, no stateful phase.  (Driven through
Hypothesis directly: schemathesis' lazy pytest fixture loader breaks on pytest 9.)
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings, strategies
from modelhouse import Client
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from inference.registry import base_model_register, committed_base_dir_list
from tests.contract.test_openapi import API_MD_OPERATIONS, _template
from tests.factories import make_tenant
from tests.sdk.helpers import write_dataset

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
CONFIG = schemathesis.Config.from_dict({"generation": {"mode": "positive"}})
MAX_EXAMPLES = 6


@pytest.fixture
def live_app(live_server, transactional_db, tmp_path):
    """A tenant with one of each object, the schema served by the app, and the key."""
    handle = make_tenant("Contract")
    base = base_model_register(committed_base_dir_list()[0])
    with Client(handle.secret, base_url=live_server.url) as sdk:
        dataset = sdk.datasets.create(write_dataset(tmp_path / "pets", {"cat": 2, "dog": 2}))
        job = sdk.fine_tunes.create(dataset.id, hyperparameters={"epochs": 1})
        spare_key = sdk.api_keys.create("spare", ["read"])  # the one DELETE may revoke
        document = sdk.request_json("GET", "/v1/openapi.json")
    return {
        "url": live_server.url,
        "secret": handle.secret,
        "document": document,
        "ids": {
            "model_id": base.public_id,
            "dataset_id": dataset.id,
            "job_id": job.id,
            "key_id": spare_key.id,
        },
    }


def _check_operation(operation, app: dict) -> None:
    """Up to ``max_examples`` generated cases of one operation; raises on the first failure."""
    ids = {name: app["ids"][name] for name in _path_names(operation) if name in app["ids"]}
    cases = operation.as_strategy()
    if ids:  # half the cases name real objects
        cases = strategies.one_of(cases, operation.as_strategy(path_parameters=ids))

    @given(case=cases)
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    def run(case) -> None:
        case.call_and_validate(
            base_url=app["url"], checks=CHECKS, headers={"Authorization": f"Bearer {app['secret']}"}
        )

    run()


def _path_names(operation) -> list[str]:
    return [
        p["name"] for p in operation.definition.raw.get("parameters", []) if p.get("in") == "path"
    ]


def test_the_live_api_matches_its_document(live_app):
    api = schemathesis.openapi.from_dict(live_app["document"], config=CONFIG)
    failures, exercised = [], set()
    for result in api.get_all_operations():
        operation = result.ok()
        exercised.add((operation.method.upper(), _template(operation.path)))
        try:
            _check_operation(operation, live_app)
        except (Exception, FailureGroup) as failure:  # noqa: BLE001 - collect them all
            failures.append(f"{operation.label}: {failure}")
    assert failures == [], "\n\n".join(failures)
    assert exercised >= API_MD_OPERATIONS
