"""Each process connects with the least it needs: the app role always, the
cross-tenant role only where a cross-tenant job runs, the owner (which could switch
row-level security off or rewrite the ledger) only for migrations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "saas.settings.production",
    "SECRET_KEY": "q8Vz2LmT0pR7yK4wN9cJ1hB6fD3sX5gA-production-like-secret-key",
    "ALLOWED_HOSTS": "api.example.com",
    "REDIS_URL": "redis://redis.internal:6379",
    "DATABASE_URL": "postgres://modelhouse_app:a@db.internal:5432/modelhouse",
}
CROSS_TENANT_URL = "postgres://modelhouse_crosstenant:c@db.internal:5432/modelhouse"
OWNER_URL = "postgres://modelhouse_owner:o@db.internal:5432/modelhouse"


def aliases(**extra: str) -> dict[str, str]:
    """The database aliases (and their users) settings give a production process."""
    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        "print(json.dumps({a: c['USER'] for a, c in settings.DATABASES.items()}))"
    )
    env = {"PATH": "/usr/bin:/bin", **PRODUCTION, **extra}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_process_given_only_the_app_url_has_only_the_app_role():
    assert aliases() == {"default": "modelhouse_app"}


def test_the_other_roles_exist_only_where_their_url_is_given():
    assert aliases(DATABASE_CROSS_TENANT_URL=CROSS_TENANT_URL) == {
        "default": "modelhouse_app",
        "crosstenant": "modelhouse_crosstenant",
    }
    assert aliases(DATABASE_OWNER_URL=OWNER_URL)["owner"] == "modelhouse_owner"


def test_the_deployment_check_passes_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **PRODUCTION, "DEBUG": "true"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_every_entry_point_defaults_to_production_settings():
    for path in ("manage.py", "saas/wsgi.py", "saas/asgi.py", "saas/celery.py"):
        text = (ROOT / path).read_text()
        assert 'setdefault("DJANGO_SETTINGS_MODULE", "saas.settings.production")' in text, path
