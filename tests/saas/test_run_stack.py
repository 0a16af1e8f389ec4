"""`make run`'s command: the whole stack comes up healthy, serves a prediction
end to end (web, inference lane, worker, metering) and stops cleanly.

``/healthz`` (liveness) answers first; the full report (database, Redis, workers
per queue) is ``/healthz/details``, read as a staff user would."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.images import png

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _health(port: int, path: str = "/healthz", session: str = "") -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Cookie": f"sessionid={session}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


_STAFF_SESSION = """
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
user = get_user_model().objects.create_user(email="ops-{port}@example.com", is_staff=True)
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
print(session.session_key)
"""


def _staff_session(port: int, env: dict) -> str:
    """A logged-in staff user's session id (what an operator's browser would send)."""
    created = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", _STAFF_SESSION.format(port=port)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return created.stdout.strip().splitlines()[-1]


def _wait_for(port: int, path: str, session: str, stack) -> tuple[int, dict]:
    deadline, status, body = time.monotonic() + 60, 0, {}
    while time.monotonic() < deadline and status != 200:
        time.sleep(0.5)
        try:
            status, body = _health(port, path, session)
        except OSError:
            assert stack.poll() is None, stack.stdout.read()
    return status, body


def _predict(port: int, env: dict) -> dict:
    created = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "create_tenant",
            "--name",
            "Stack",
            "--owner-email",
            f"stack{port}@example.com",
            "--api-key",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    headers = {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}"}
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/models", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        model = json.load(response)["data"][0]["id"]
    boundary = "stacktest"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="a.png"\r\nContent-Type: image/png\r\n\r\n'
        ).encode()
        + png()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/models/{model}/predict",
        data=body,
        method="POST",
        headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def test_runstack_serves_healthz_and_a_prediction_then_stops_cleanly():
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "saas.settings.local",
        # its own database and Redis databases, so it shares nothing with the tests
        "MODELHOUSE_DB_NAME": "modelhouse_runstack_test",
        "MODELHOUSE_REDIS_DB_OFFSET": "12",
        "WEB_CONCURRENCY": "1",
    }
    stack = subprocess.Popen(
        [sys.executable, "manage.py", "runstack", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        text=True,
    )
    try:
        assert _wait_for(port, "/healthz", "", stack) == (200, {"status": "ok"})
        assert _health(port, "/healthz/details")[0] == 403  # not for strangers
        status, body = _wait_for(port, "/healthz/details", _staff_session(port, env), stack)
        assert status == 200, body
        assert body["database"] == body["redis"] == "ok"
        assert all(queue["workers"] >= 1 for queue in body["queues"].values())
        assert set(body["queues"]) == {"inference", "training", "datasets", "default"}
        prediction = _predict(port, env)
        assert prediction["status"] == "succeeded" and len(prediction["results"]) == 1
    finally:
        os.killpg(stack.pid, signal.SIGINT)
        output, _ = stack.communicate(timeout=60)
    assert stack.returncode == 0, output[-3000:]
    assert f"http://127.0.0.1:{port}/healthz" in output and "Stopped." in output
