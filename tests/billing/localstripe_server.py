"""Run ``localstripe`` (a fake Stripe API server) for tests; real Stripe is never reached.

``running_localstripe()`` starts ``localstripe --from-scratch`` on a free port,
waits until it answers, yields its base URL and stops it afterwards. Wrap it
in a fixture::

    @pytest.fixture(scope="session")
    def localstripe_url():
        with running_localstripe() as url:
            yield url

localstripe keeps every object in one process (``--from-scratch`` ignores the
state it pickles to ``/tmp/localstripe.pickle``), so tests sharing a server
should use fresh customers rather than expect an empty account.
"""

from __future__ import annotations

import base64
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

TEST_API_KEY = "sk_test_modelhouse"
SECRET = "whsec_modelhouse_test"  # the webhook signing secret tests sign with
_STARTUP_TIMEOUT_S = 20.0
_STOP_TIMEOUT_S = 5.0


def localstripe_executable() -> str:
    """The ``localstripe`` script installed next to this interpreter."""
    return str(Path(sys.executable).with_name("localstripe"))


@contextmanager
def running_localstripe(*, executable: str | None = None) -> Iterator[str]:
    """A fresh localstripe on a free port; yields ``http://127.0.0.1:<port>``."""
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    # localstripe logs every request; a file (unlike a pipe) never fills up and blocks it.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [executable or localstripe_executable(), "--port", str(port), "--from-scratch"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_answering(base_url, process, log)
            yield base_url
        finally:
            _stop(process)


def _free_port() -> int:
    # The port could be taken between here and localstripe's bind; startup
    # then fails loudly instead of talking to someone else's server.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_answering(base_url: str, process: subprocess.Popen[bytes], log: IO[bytes]) -> None:
    token = base64.b64encode(f"{TEST_API_KEY}:".encode()).decode()
    request = urllib.request.Request(
        f"{base_url}/v1/customers?limit=1", headers={"Authorization": f"Basic {token}"}
    )
    deadline = time.monotonic() + _STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            output = log.read().decode(errors="replace")
            raise RuntimeError(f"localstripe exited with {process.returncode}: {output[-2000:]}")
        try:
            with urllib.request.urlopen(request, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RuntimeError(f"localstripe did not answer at {base_url} within {_STARTUP_TIMEOUT_S}s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
