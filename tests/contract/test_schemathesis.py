"""Schemathesis against the live app with a real key: generated requests must get no
server error and only answers that match the document (status, content type,
headers, body).

Two phases, both part of ``make test``:

* per operation: ``MAX_EXAMPLES`` cases of every operation; about half name real
  objects of the tenant in their path, so the success answers of retrieve, cancel
  and delete are checked too, not only their 404s;
* stateful: ``STATEFUL_SCENARIOS`` sequences (more, up to twice as many, until every
  link was followed to a real object) of up to ``STATEFUL_STEPS`` calls that follow
  the document's OpenAPI links (core.api.schema) from each create to the operations
  that take the new object's id: a dataset is created, read, fine-tuned and deleted;
  a fine-tune read, its events listed, cancelled; a key read and revoked; a
  prediction read.  Failures are collected, each with its request as curl.

Each test prints how many cases it sent.  (Driven through Hypothesis directly:
schemathesis' lazy pytest fixture loader breaks on pytest 9.)
"""

from __future__ import annotations

import base64
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field

import hypothesis
import pytest
import schemathesis
from django.test import override_settings
from hypothesis import HealthCheck, Phase, given, settings, strategies
from hypothesis.errors import FlakyStrategyDefinition
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
from tests.images import png
from tests.sdk.helpers import write_dataset

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
CONFIG = schemathesis.Config.from_dict({"generation": {"mode": "positive"}})
MAX_EXAMPLES = 10
# Only the document's own links drive the stateful phase (no links inferred by
# schemathesis), so a link the schema loses fails the test instead of being guessed.
STATEFUL_CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"mode": "positive"},
        "phases": {"stateful": {"enabled": True, "inference": {"algorithms": []}}},
    }
)
STATEFUL_SCENARIOS = 150
STATEFUL_STEPS = 10


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
        "image": base64.b64encode(png()).decode(),
        "ids": {
            "model_id": base.public_id,
            "dataset_id": dataset.id,
            "job_id": job.id,
            "key_id": spare_key.id,
        },
    }


def _check_operation(operation, app: dict, sent: Counter) -> None:
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
        sent[operation.label] += 1
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
    failures, exercised, sent, started = [], set(), Counter(), time.monotonic()
    for result in api.get_all_operations():
        operation = result.ok()
        exercised.add((operation.method.upper(), _template(operation.path)))
        try:
            _check_operation(operation, live_app, sent)
        except (Exception, FailureGroup) as failure:  # noqa: BLE001 - collect them all
            failures.append(f"{operation.label}: {failure}")
    print(
        f"schemathesis, per operation: {sum(sent.values())} cases over {len(sent)} operations "
        f"in {time.monotonic() - started:.1f} s"
    )
    assert failures == [], "\n\n".join(failures)
    assert exercised >= API_MD_OPERATIONS


# --- the stateful phase -------------------------------------------------------------------------

# Every link of the document, and the answer that shows it reached a real object.
LINKS_REACHED = {
    "datasets_retrieve": 200,
    "datasets_delete": 200,
    "fine_tunes_create": 201,
    "fine_tunes_retrieve": 200,
    "fine_tunes_events": 200,
    "fine_tunes_cancel": 200,
    "api_keys_retrieve": 200,
    "api_keys_revoke": 200,
    "predictions_retrieve": 200,
}


@dataclass
class StatefulRun:
    """What the stateful phase did: cases sent per operation, links followed (the
    target's operation id and the status it answered), scenarios run, failures."""

    sent: Counter = field(default_factory=Counter)
    followed: Counter = field(default_factory=Counter)
    scenarios: int = 0
    failures: list[str] = field(default_factory=list)


def _workflow(app: dict, api, run: StatefulRun):
    """schemathesis' state machine for the document, calling the live app with the key.
    Every answer goes through CHECKS; a failure is recorded (request as curl, then the
    checks' report) rather than raised, so that Hypothesis never replays a sequence
    against an app whose state has moved on."""

    class Workflow(api.as_state_machine()):
        def get_call_kwargs(self, case) -> dict:
            return {"base_url": app["url"], "headers": {"Authorization": f"Bearer {app['secret']}"}}

        def before_call(self, case) -> None:
            # Nothing creates a model or an image, and no generator guesses a base model
            # or hyperparameters that validate: like the per-operation phase's real ids,
            # about half the async predictions name the base model with a real image, and
            # half the fine-tunes the base model with valid hyperparameters (the dataset
            # still comes from the link), so their links are followed to real objects.
            # Chosen by the generated body, so that a replay chooses alike.
            if not isinstance(case.body, dict) or zlib.crc32(repr(case.body).encode()) % 2:
                return
            if case.operation.label == "POST /v1/predictions":
                case.media_type = "application/json"
                case.body = {
                    "model": app["ids"]["model_id"],
                    "inputs": [{"image_base64": app["image"]}],
                }
            elif case.operation.label == "POST /v1/fine-tunes":
                case.body = {
                    "dataset": case.body.get("dataset"),
                    "base_model": app["ids"]["model_id"],
                    "hyperparameters": {"epochs": 1},
                }

        def step(self, input):
            run.sent[input.case.operation.label] += 1
            output = super().step(input)
            if input.transition is not None and input.is_applied:
                target = input.case.operation.definition.raw["operationId"]
                run.followed[(target, output.response.status_code)] += 1
            return output

        def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:
            try:
                case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs or None)
            except FailureGroup as failure:
                run.failures.append(f"{case.as_curl_command()}\n{failure}")

        def teardown(self) -> None:
            run.scenarios += 1
            super().teardown()

    return Workflow


def _run_scenarios(workflow, run: StatefulRun, *, at_least: int, done) -> None:
    """Run ``at_least`` scenarios, then batches of more (up to twice as many in all)
    while ``done(run)`` is false: which links a scenario follows is random, and a rare
    run would otherwise miss one.

    Hypothesis replays a prefix of choices now and then; against a live app whose
    state has moved on, the replay can draw differently (a create that answered 201
    before answers 400 now) and Hypothesis stops with FlakyStrategyDefinition.  That is
    no failure of the app: the run goes on under the next seed, as schemathesis' own
    engine does."""
    for seed in range(30):
        if run.scenarios >= at_least and (done(run) or run.scenarios >= 2 * at_least):
            return
        batch = at_least - run.scenarios if run.scenarios < at_least else at_least // 4
        try:
            hypothesis.seed(seed)(workflow).run(
                settings=settings(
                    max_examples=batch,
                    stateful_step_count=STATEFUL_STEPS,
                    deadline=None,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                    phases=[Phase.generate],
                )
            )
        except FlakyStrategyDefinition:
            continue
    raise AssertionError(f"the stateful phase stopped after {run.scenarios} scenarios")


def _links_reached(run: StatefulRun) -> set[str]:
    return {name for name, status in run.followed if status == LINKS_REACHED.get(name)}


# Generated uploads stay "processing" (no worker here): the limits on them and on
# unfinished jobs are lifted, so that creates keep succeeding and their links firing.
@override_settings(
    TRAINING_MAX_PROCESSING_DATASETS_PER_TENANT=10_000,
    TRAINING_MAX_UNFINISHED_JOBS_PER_TENANT=10_000,
)
def test_the_stateful_phase_follows_links_to_the_objects_it_creates(live_app):
    document = live_app["document"]
    api = schemathesis.openapi.from_dict(document, config=STATEFUL_CONFIG)
    run, started = StatefulRun(), time.monotonic()

    _run_scenarios(
        _workflow(live_app, api, run),
        run,
        at_least=STATEFUL_SCENARIOS,
        done=lambda run: _links_reached(run) == set(LINKS_REACHED),
    )

    print(
        f"schemathesis, stateful: {sum(run.sent.values())} cases in {run.scenarios} scenarios "
        f"over {len(run.sent)} operations in {time.monotonic() - started:.1f} s; links "
        "followed: "
        + ", ".join(
            f"{name} -> {status} x{n}" for (name, status), n in sorted(run.followed.items())
        )
    )
    assert run.failures == [], "\n\n".join(run.failures)
    assert _links_reached(run) == set(LINKS_REACHED)
