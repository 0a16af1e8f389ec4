"""Opaque, prefixed public identifiers (``org_…``, ``key_…``, ``pred_…``).

Random rather than sequential, so they reveal neither volume nor order; the
sequential primary keys never leave the server.

Characters come from one CSPRNG call per batch, mapped onto 62 letters and
digits without bias (bytes 248-255 are dropped, so the other 248 map evenly):
``secrets.choice`` per character cost ~60 µs an id — on every prediction and
usage event — where this costs about 1 µs.
"""

import secrets
import string

_ALPHABET = (string.ascii_letters + string.digits).encode()
_TO_ALPHABET = bytes(_ALPHABET[byte % len(_ALPHABET)] for byte in range(256))
_UNEVEN = bytes(range(248, 256))
PUBLIC_ID_LENGTH = 24  # ~143 bits of randomness


def random_token(length: int) -> str:
    chars = b""
    while len(chars) < length:
        chars += secrets.token_bytes(length + 16).translate(_TO_ALPHABET, _UNEVEN)
    return chars[:length].decode()


def new_public_ids(prefix: str, count: int) -> list[str]:
    text = random_token(count * PUBLIC_ID_LENGTH)
    return [
        f"{prefix}_{text[n * PUBLIC_ID_LENGTH : (n + 1) * PUBLIC_ID_LENGTH]}" for n in range(count)
    ]


def new_public_id(prefix: str) -> str:
    return f"{prefix}_{random_token(PUBLIC_ID_LENGTH)}"
