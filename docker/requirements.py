"""Requirement lists for the images, printed one per line.

``requirements.py [--without-tensorflow] [PYPROJECT]``
    The runtime dependencies of ``pyproject.toml`` (markers kept).  The images
    install them before copying the source, so a code change does not
    reinstall them, and ``pyproject.toml`` stays the one list to maintain.
    ``--without-tensorflow`` is for the GPU image: its base image already holds
    the CUDA build of TensorFlow, and ``tensorflow-cpu`` installed over it
    would replace the same ``tensorflow`` package with one blind to the GPU.

``requirements.py --pin-installed 'DIST[EXTRAS]'``
    ``name==version`` constraints for the installed distribution ``DIST`` and
    everything installed that it depends on, so installing our requirements
    cannot swap out the GPU image's TensorFlow or its numpy, protobuf, keras,
    CUDA libraries.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

TENSORFLOW_DISTRIBUTIONS = frozenset({"tensorflow", "tensorflow-cpu"})
DEFAULT_PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def distribution_name(requirement: str) -> str:
    """The normalised (PEP 503) distribution name at the start of a requirement string."""
    name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if name is None:
        raise ValueError(f"not a requirement: {requirement!r}")
    return re.sub(r"[-_.]+", "-", name.group(1)).lower()


def runtime_requirements(pyproject: Path, *, without_tensorflow: bool = False) -> list[str]:
    """``[project] dependencies`` of ``pyproject``, optionally without TensorFlow."""
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    if without_tensorflow:
        dependencies = [
            dependency
            for dependency in dependencies
            if distribution_name(dependency) not in TENSORFLOW_DISTRIBUTIONS
        ]
    return dependencies


def installed_pins(root: str) -> list[str]:
    """``name==version`` for the installed distribution ``root`` (``name[extra,...]``)
    and every installed distribution it requires, transitively.  Requirements
    behind an extra count only for the extras named on ``root``.

    Raises ``importlib.metadata.PackageNotFoundError`` when ``root`` is absent.
    """
    from packaging.requirements import Requirement  # a TensorFlow dependency

    wanted = Requirement(root)
    metadata.version(wanted.name)  # fail loudly on a missing root
    pins: dict[str, str] = {}
    pending = [(wanted.name, frozenset(wanted.extras))]
    while pending:
        name, extras = pending.pop()
        name = distribution_name(name)
        if name in pins:
            continue
        try:
            pins[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # an optional dependency that is not installed
        for requirement in map(Requirement, metadata.requires(name) or []):
            if requirement.marker is None or any(
                requirement.marker.evaluate({"extra": extra}) for extra in extras | {""}
            ):
                pending.append((requirement.name, frozenset(requirement.extras)))
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pyproject", nargs="?", type=Path, default=DEFAULT_PYPROJECT)
    parser.add_argument("--without-tensorflow", action="store_true")
    parser.add_argument("--pin-installed", metavar="DIST")
    args = parser.parse_args(argv)
    if args.pin_installed:
        lines = installed_pins(args.pin_installed)
    else:
        lines = runtime_requirements(args.pyproject, without_tensorflow=args.without_tensorflow)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
