"""The layers of docs/architecture.md hold: import-linter's contracts in pyproject.toml
(saas on top, then training, inference, billing, tenants, core; ml imports nothing of
ours; no import cycle inside a package).  `make lint` runs the same check."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_imports_follow_the_layers_and_form_no_cycles():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from importlinter.cli import lint_imports;"
            "raise SystemExit(lint_imports(no_cache=True))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
