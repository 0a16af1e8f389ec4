"""The web process must never import TensorFlow (DESIGN.md §1)."""

import subprocess
import sys

_PROBE = """
import sys
import django
django.setup()
import saas.wsgi, saas.asgi
from django.urls import get_resolver
def walk(resolver):
    for pattern in resolver.url_patterns:
        if hasattr(pattern, "url_patterns"):
            walk(pattern)
walk(get_resolver())
from django.test import Client
Client().get("/v1/openapi.json")
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "jax"))
print(",".join(heavy) or "clean")
"""


def test_web_application_does_not_import_tensorflow():
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        env={"DJANGO_SETTINGS_MODULE": "saas.settings.test", "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "clean"
