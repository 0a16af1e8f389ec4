"""Retries against the live app: a real 429 waited out, and a POST whose answer is lost
on the way back resent with the same Idempotency-Key — the server does the work once."""

from __future__ import annotations

import time

import httpx
from django.test import override_settings
from modelhouse import Client

from tests.sdk.helpers import write_dataset


class Recorder:
    """httpx event hooks noting each request (and when it left) and each answer."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.sent_at: list[float] = []
        self.responses: list[tuple[float, int, httpx.Headers]] = []

    def hooks(self) -> dict:
        return {"request": [self._sent], "response": [self._received]}

    def statuses(self) -> list[int]:
        return [status for _, status, _ in self.responses]

    def _sent(self, request: httpx.Request) -> None:
        self.requests.append(request)
        self.sent_at.append(time.monotonic())

    def _received(self, response: httpx.Response) -> None:
        self.responses.append((time.monotonic(), response.status_code, response.headers))


class LoseFirstAnswer(httpx.HTTPTransport):
    """Delivers every request to the real server, but drops the first answer to a POST,
    as a broken connection would after the server did the work."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped: list[httpx.Response] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.method == "POST" and not self.dropped:
            response.read()
            self.dropped.append(response)
            raise httpx.ReadError("connection reset after the server answered", request=request)
        return response


@override_settings(RATE_LIMIT_PER_KEY=60)  # one request a second, bursts of 60
def test_a_429_is_retried_after_its_retry_after(live_server, live_a):
    recorder = Recorder()
    with (
        httpx.Client(event_hooks=recorder.hooks()) as http,
        Client(live_a.secret, base_url=live_server.url, http_client=http) as client,
    ):
        for _ in range(100):  # until the bucket runs dry and one call has to wait
            assert client.ping()["object"] == "ping"
            if 429 in recorder.statuses():
                break
    statuses = recorder.statuses()
    limited = statuses.index(429)
    assert statuses[limited + 1 :] == [200]  # one retry, and it succeeded
    retry_after = float(recorder.responses[limited][2]["Retry-After"])
    assert retry_after >= 1
    waited = recorder.sent_at[limited + 1] - recorder.responses[limited][0]
    assert waited >= retry_after - 0.01


def test_a_post_whose_answer_is_lost_is_resent_and_done_once(live_server, live_a, tmp_path):
    folder = write_dataset(tmp_path / "pets", {"cat": 2, "dog": 2})
    transport, recorder = LoseFirstAnswer(), Recorder()
    with (
        httpx.Client(transport=transport, event_hooks=recorder.hooks()) as http,
        Client(live_a.secret, base_url=live_server.url, http_client=http) as client,
    ):
        dataset = client.datasets.create(folder)
        datasets = client.datasets.list()

    first, resent = (r for r in recorder.requests if r.method == "POST")
    assert first.headers["Idempotency-Key"] == resent.headers["Idempotency-Key"]
    assert transport.dropped[0].status_code == 201
    assert transport.dropped[0].json()["id"] == dataset.id  # the replay is the first answer
    replayed = [h for _, status, h in recorder.responses if status == 201]
    assert replayed[-1]["Idempotent-Replayed"] == "true"
    assert [d.id for d in datasets] == [dataset.id]  # one dataset, not two


def test_a_replayed_key_creation_never_shows_the_secret_twice(live_server, live_a):
    with (
        httpx.Client(transport=LoseFirstAnswer()) as http,
        Client(live_a.secret, base_url=live_server.url, http_client=http) as client,
    ):
        key = client.api_keys.create("ci", ["read"])
        names = [k.name for k in client.api_keys.list()]
    assert key.secret == "[redacted]"  # lost with the first answer: revoke and create anew
    assert names.count("ci") == 1
