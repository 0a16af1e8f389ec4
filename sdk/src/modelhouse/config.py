"""Where the client finds its API key and the API's address.

In order: an explicit argument, then the environment (``MODELHOUSE_API_KEY``,
``MODELHOUSE_BASE_URL``), then the config file
(``$XDG_CONFIG_HOME/modelhouse/config.toml``, by default
``~/.config/modelhouse/config.toml``; ``MODELHOUSE_CONFIG`` names another).

The file holds a secret, so like ssh's keys it must be readable by its owner
only (mode 0600): a file that others may read is refused, not silently used.
"""

from __future__ import annotations

import json
import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path

from modelhouse.errors import ConfigurationError

ENV_API_KEY = "MODELHOUSE_API_KEY"
ENV_BASE_URL = "MODELHOUSE_BASE_URL"
ENV_CONFIG = "MODELHOUSE_CONFIG"
DEFAULT_BASE_URL = "http://localhost:8000"


@dataclass(frozen=True)
class Settings:
    api_key: str
    base_url: str


def config_path() -> Path:
    if os.environ.get(ENV_CONFIG):
        return Path(os.environ[ENV_CONFIG]).expanduser()
    root = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(root) / "modelhouse" / "config.toml"


def read_config_file(path: Path) -> dict[str, str]:
    """The file's settings, or ``{}`` when there is none; refuses a file others can read."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return {}
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(
            f"{path} holds an API key but others may read it (mode {stat.filemode(mode)}); "
            f"run: chmod 600 {path}"
        )
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigurationError(f"Cannot read {path}: {error}") from error
    return {key: str(value) for key, value in data.items() if key in ("api_key", "base_url")}


def write_config_file(path: Path, *, api_key: str, base_url: str | None = None) -> None:
    """Write the file with mode 0600 from the start (never briefly readable by others)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # JSON string escapes are valid TOML basic-string escapes.
    lines = [f"api_key = {json.dumps(api_key)}"]
    if base_url:
        lines.append(f"base_url = {json.dumps(base_url)}")
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)  # an existing file keeps its old mode otherwise
        handle.write("\n".join(lines) + "\n")


def load_settings(api_key: str | None = None, base_url: str | None = None) -> Settings:
    """Resolve the key and address; raises :class:`ConfigurationError` when no key is found."""
    environment = {
        "api_key": os.environ.get(ENV_API_KEY),
        "base_url": os.environ.get(ENV_BASE_URL),
    }
    file: dict[str, str] = {}
    if not (api_key or environment["api_key"]) or not (base_url or environment["base_url"]):
        file = read_config_file(config_path())
    key = api_key or environment["api_key"] or file.get("api_key")
    if not key:
        raise ConfigurationError(
            f"No API key: set {ENV_API_KEY}, or run `modelhouse configure` to write "
            f"{config_path()}."
        )
    url = base_url or environment["base_url"] or file.get("base_url") or DEFAULT_BASE_URL
    return Settings(api_key=key, base_url=url.rstrip("/"))
