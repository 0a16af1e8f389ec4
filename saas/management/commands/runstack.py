"""``make run``: the whole stack in the foreground — web, the four Celery
workers and beat — on the embedded services unless configured otherwise."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from saas import embedded
from saas.workers import worker_command

INFERENCE_NICENESS = 10


def _processes(port: int) -> dict[str, list[str]]:
    python = sys.executable
    celery = [python, "-m", "celery", "-A", "saas"]
    web_workers = os.environ.get("WEB_CONCURRENCY", "2")
    return {
        "web": [
            python,
            "-m",
            "gunicorn",
            "saas.wsgi:application",
            "--bind",
            f"0.0.0.0:{port}",
            "--workers",
            web_workers,
            "--threads",
            os.environ.get("WEB_THREADS", "16"),
            "--access-logfile",
            "-",
            "--graceful-timeout",
            "10",
        ],
        # Everything shares this host's cores: the inference worker's CPU fallback
        # may use all of them but yields to the web tier (TensorFlow's idle compute
        # threads spin, and at equal priority they starve the processes that feed them).
        "inference": [
            "nice",
            "-n",
            str(INFERENCE_NICENESS),
            *worker_command("inference", node="inference@%h"),
        ],
        "training": worker_command("training", node="training@%h"),
        "datasets": worker_command("datasets", node="datasets@%h"),
        "default": worker_command("default", node="default@%h"),
        "beat": [
            *celery,
            "beat",
            "--schedule",
            str(embedded.VAR_DIR / "celerybeat-schedule"),
            "--loglevel",
            "INFO",
        ],
    }


class Command(BaseCommand):
    help = "Run web, the inference/training/datasets/default workers and beat until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))

    def handle(self, *args, port: int, **options):
        embedded_services = not os.environ.get("DATABASE_URL")
        # Stop on exit only the engines this command started (tests or another
        # stack may share ones that were already running).
        started_pg = embedded_services and not embedded.postgres_running()
        started_redis = not os.environ.get("REDIS_URL") and not embedded.redis_running()
        call_command("setup_database", verbosity=0)
        call_command("ensure_base_model", verbosity=1)
        children = {
            name: subprocess.Popen(command, start_new_session=True)
            for name, command in _processes(port).items()
        }
        self._banner(port, embedded_services)
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopping:
            exited = [name for name, child in children.items() if child.poll() is not None]
            if exited:
                self.stderr.write(f"{', '.join(exited)} exited; stopping the stack.")
                break
            time.sleep(0.5)
        self._shutdown(children)
        if started_redis:
            embedded.stop_redis()
        if started_pg:
            embedded.stop_postgres()
        self.stdout.write("Stopped.")

    def _banner(self, port: int, embedded_services: bool) -> None:
        where = (
            "embedded PostgreSQL and Redis under var/"
            if embedded_services
            else "the configured DATABASE_URL / REDIS_URL"
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"\nModelhouse is starting on {where}\n"
                f"  API        http://127.0.0.1:{port}/v1/\n"
                f"  API docs   http://127.0.0.1:{port}/docs/\n"
                f"  Health     http://127.0.0.1:{port}/healthz\n"
                f"  Admin      http://127.0.0.1:{port}/admin/\n"
                f"  Database   {settings.DATABASES['default']['NAME']}\n"
                "Create an organisation and key in another terminal:\n"
                "  .venv/bin/python manage.py create_tenant --name Acme "
                "--owner-email you@example.com --api-key\n"
                "Press Ctrl-C to stop.\n"
            )
        )

    def _shutdown(self, children: dict[str, subprocess.Popen]) -> None:
        for child in children.values():
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
