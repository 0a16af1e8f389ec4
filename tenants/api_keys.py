"""The API key format: ``mh_<env>_<id>_<secret><checksum>``.

* ``mh_`` and the environment marker (``live`` / ``test``) make a leaked key
  recognisable by secret scanners, and a test key useless in production;
* ``<id>`` (12 random characters) with the marker forms the public *prefix*,
  stored in clear for look-up and display;
* ``<secret>`` is 32 random base62 characters (~190 bits): only its SHA-256
  digest is stored — a slow password hash buys nothing at this entropy;
* the last 6 characters are a CRC32 of everything before them, so a mistyped
  key is refused without touching the database.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import zlib
from dataclasses import dataclass

from core.ids import random_token

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_FORMAT = re.compile(r"^(mh_(live|test)_[A-Za-z0-9]{12})_([A-Za-z0-9]{32})([A-Za-z0-9]{6})$")


@dataclass(frozen=True)
class NewKey:
    prefix: str
    secret: str  # the whole key, shown once
    digest: str


def _checksum(body: str) -> str:
    value = zlib.crc32(body.encode())
    digits = []
    for _ in range(6):
        value, remainder = divmod(value, 62)
        digits.append(_BASE62[remainder])
    return "".join(reversed(digits))


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def generate(environment: str) -> NewKey:
    if environment not in ("live", "test"):
        raise ValueError("environment must be 'live' or 'test'")
    prefix = f"mh_{environment}_{random_token(12)}"
    body = f"{prefix}_{random_token(32)}"
    secret = body + _checksum(body)
    return NewKey(prefix=prefix, secret=secret, digest=digest(secret))


def parse(secret: str) -> tuple[str, str] | None:
    """Return ``(prefix, environment)`` for a well-formed key with a valid checksum."""
    match = _FORMAT.match(secret)
    if not match:
        return None
    body = secret[:-6]
    if not hmac.compare_digest(_checksum(body), match.group(4)):
        return None
    return match.group(1), match.group(2)


def matches(secret: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_digest)
