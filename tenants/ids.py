"""Opaque, prefixed public identifiers (``org_…``, ``key_…``, ``pred_…``).

Random rather than sequential, so they reveal neither volume nor order; the
sequential primary keys never leave the server.
"""

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
PUBLIC_ID_LENGTH = 24  # ~143 bits of randomness


def random_token(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_public_id(prefix: str) -> str:
    return f"{prefix}_{random_token(PUBLIC_ID_LENGTH)}"
