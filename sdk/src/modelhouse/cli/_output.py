"""What the commands print on stdout: JSON for machines (``--json``), tables for people."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from modelhouse.types import APIObject


def print_json(value: Any) -> None:
    print(json.dumps(value.raw if isinstance(value, APIObject) else value, default=str))


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    cells = [list(map(str, headers))] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        padded = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(padded).rstrip())


def emit(
    args: argparse.Namespace,
    value: APIObject,
    headers: Sequence[str],
    row: Callable[[Any], Sequence[Any]],
) -> None:
    """``value`` as JSON with ``--json``, else as a one-row table."""
    if args.json:
        print_json(value)
    else:
        print_table(headers, [row(value)])
