"""What a refused request costs the web tier, against the cheapest authenticated one.

For each kind of request an attacker or a careless client sends — a made-up key (before
and past the per-IP limit on failed keys), a suspended tenant's prediction, a prediction
past the free allowance, a body over its limit, a pixel bomb — it measures the CPU the
request handling spends in this process (``time.thread_time`` around Django's test
client, so the handler, the database driver and Redis client work, not the servers')
and prints it over the CPU of ``GET /v1/ping``, the reference, in interleaved rounds of
one run.  Target: each at most 2x.

Run: ``.venv/bin/python bench/abuse.py [--rounds 5] [--requests 100]``.  It uses its own
database (``modelhouse_bench_abuse``) and Redis databases.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import struct
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings.test")
os.environ["MODELHOUSE_DB_NAME"] = os.environ.get("BENCH_DB_NAME", "modelhouse_bench_abuse")
os.environ.setdefault("MODELHOUSE_REDIS_DB_OFFSET", "12")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart  # noqa: E402
from PIL import Image  # noqa: E402

from billing.ledger.usage import UsageDraft  # noqa: E402
from billing.pricing.price_book import FREE, IMAGES_BASE  # noqa: E402
from billing.spend.metering import usage_record  # noqa: E402
from core.context import tenant_context  # noqa: E402
from inference.registry import base_model_register, committed_base_dir_list  # noqa: E402
from saas import config  # noqa: E402
from saas.database_setup import ensure_roles_and_database  # noqa: E402
from tenants import services  # noqa: E402
from tenants.models import Tenant  # noqa: E402

IMAGES_PER_REQUEST = 8


def fresh_database() -> None:
    connections.close_all()
    ensure_roles_and_database(config.database_plan(), recreate=True)
    call_command("migrate", database="owner", interactive=False, verbosity=0)
    connections["owner"].close()


def tenant(name: str, plan: str = "payg") -> tuple[Tenant, str]:
    organisation, owner = services.tenant_create(
        name=name, owner_email=f"{name.lower()}@bench.test", plan=plan
    )
    with tenant_context(organisation):
        created = services.api_key_create(
            organisation, actor=owner, name="bench", scopes=["predict", "read"]
        )
    return organisation, created.secret


def jpeg(seed: int, size: int = 224) -> bytes:
    image = Image.effect_noise((size, size), 40 + seed).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def pixel_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A valid PNG header declaring 900 megapixels, with one tiny compressed row."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * (width * 3 + 1)))
        + chunk(b"IEND", b"")
    )


def multipart(images: list[bytes]) -> bytes:
    files = [io.BytesIO(blob) for blob in images]
    for n, handle in enumerate(files):
        handle.name = f"image{n}.jpg"
    return encode_multipart(BOUNDARY, {"file": files})


def cases(model_id: str) -> dict:
    """name -> a callable sending one request, and the status it must get."""
    _, active_key = tenant("Active")
    suspended, suspended_key = tenant("Suspended")
    Tenant.objects.filter(pk=suspended.pk).update(status=Tenant.Status.SUSPENDED)
    free, free_key = tenant("Free", plan="free")
    with tenant_context(free):  # the whole allowance used
        allowance = FREE.price_for(IMAGES_BASE).included
        usage_record(free, [UsageDraft(IMAGES_BASE, allowance, "used", "bench")])
    fake_key = active_key[:-10] + "0000000000"  # the right shape, an unknown secret
    body = multipart([jpeg(seed) for seed in range(IMAGES_PER_REQUEST)])
    bomb = multipart([pixel_bomb()])
    client = Client(HTTP_HOST="localhost")
    path = f"/v1/models/{model_id}/predict"

    def get(key: str, url: str = "/v1/ping", **extra):
        return lambda: client.get(url, HTTP_AUTHORIZATION=f"Bearer {key}", **extra)

    def post(key: str, data: bytes, **extra):
        return lambda: client.generic(
            "POST", path, data, MULTIPART_CONTENT, HTTP_AUTHORIZATION=f"Bearer {key}", **extra
        )

    return {
        "GET /v1/ping (reference)": (get(active_key), 200),
        "a made-up key": (get(fake_key, REMOTE_ADDR="10.0.0.1"), 401),
        "a made-up key past the per-IP limit": (get(fake_key, REMOTE_ADDR="10.0.0.2"), 429),
        f"a suspended tenant's {IMAGES_PER_REQUEST}-image predict": (
            post(suspended_key, body),
            402,
        ),
        f"a {IMAGES_PER_REQUEST}-image predict past the free allowance": (
            post(free_key, body),
            402,
        ),
        "a body over its limit (Content-Length)": (
            post(active_key, body, CONTENT_LENGTH=str(10**10)),
            413,
        ),
        "a pixel bomb (900 MP PNG)": (post(active_key, bomb), 413),
    }


def cpu_per_request(send, expected: int, requests: int) -> float:
    started = time.thread_time()
    for _ in range(requests):
        response = send()
        assert response.status_code == expected, (response.status_code, response.content[:300])
    return (time.thread_time() - started) / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    fresh_database()
    base = base_model_register(committed_base_dir_list()[0])
    measured = cases(base.public_id)
    # Past the per-IP limit: its address fails enough first (outside the measurement).
    past_limit = measured["a made-up key past the per-IP limit"][0]
    settings.AUTH_FAILURES_PER_IP_PER_MINUTE = 10
    for _ in range(20):
        past_limit()
    settings.AUTH_FAILURES_PER_IP_PER_MINUTE = 10**9  # the other key case stays under it
    samples: dict[str, list[float]] = {name: [] for name in measured}
    for _ in range(args.rounds):
        for name, (send, expected) in measured.items():
            if name == "a made-up key past the per-IP limit":
                settings.AUTH_FAILURES_PER_IP_PER_MINUTE = 10
            samples[name].append(cpu_per_request(send, expected, args.requests))
            settings.AUTH_FAILURES_PER_IP_PER_MINUTE = 10**9
    reference = statistics.median(samples["GET /v1/ping (reference)"])
    print(f"\nweb-tier CPU per request, median of {args.rounds} rounds x {args.requests}:")
    for name, values in samples.items():
        cost = statistics.median(values)
        ratio = cost / reference
        verdict = (
            "" if name.endswith("(reference)") else ("  meets 2x" if ratio <= 2 else "  misses 2x")
        )
        print(f"  {name:<45}: {cost * 1e6:7.0f} us  {ratio:5.2f}x{verdict}")


if __name__ == "__main__":
    main()
