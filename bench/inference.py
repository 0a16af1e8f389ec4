"""Inference over HTTP on loopback, measured against its ceilings in the same run.

Starts the whole stack (`manage.py runstack`) on the embedded services with a
separate database, creates tenants, keys and 1,000 head-only tenant models, and
drives it with concurrent keep-alive clients.  Prints, each with its ratio to
its reference:

* images/s and p50/p99 latency of single-image requests at 1, 8 and 32 clients,
  and of 32-image requests (at 4 clients, latency-bound, and at 16, saturating);
* the raw in-process batched forward pass of the same model (the ceiling);
* the same loads spread over 1,000 tenant models (shared backbone) vs one model;
* metering on vs off (a second stack with INFERENCE_METERING=false, running
  beside the first on its own Redis databases);
* single-image requests at 32 clients vs a bare authenticated endpoint
  (`GET /v1/ping`) served by the same server.

Every figure is measured once per round, right next to its reference, and the
median round is printed; each ratio is the median (and range) of the rounds'
own ratios.  This VM's throughput drifts by ±25% over a minute: a ratio of two
medians taken from different rounds was mostly noise.

Run: `.venv/bin/python bench/inference.py [--seconds 4] [--rounds 5] [--models 1000]`.
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ENV = {
    "MODELHOUSE_DB_NAME": "modelhouse_bench",
    "MODELHOUSE_REDIS_DB_OFFSET": "12",
    "RATE_LIMIT_PER_KEY": "10000000",
    "RATE_LIMIT_PER_TENANT": "10000000",
    "DJANGO_SETTINGS_MODULE": "saas.settings.local",
    "DEBUG": "false",
    "HEALTH_DETAILS_TOKEN": "bench-health",  # to see when the workers are up
}
os.environ.update(ENV)
BATCH_CLIENTS = 16  # 32-image requests: enough in flight to keep the worker busy


# -- load generation --------------------------------------------------------------------


@dataclass
class Target:
    path: str
    key: str
    body: bytes = b""
    content_type: str = ""


@dataclass
class Result:
    requests: int
    images: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def ips(self) -> float:
        return self.images / self.seconds

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies, q) * 1000) if self.latencies else float("nan")


def drive(
    port: int,
    targets: list[Target],
    clients: int,
    seconds: float,
    images_per_request: int,
    method: str = "POST",
) -> Result:
    """``clients`` threads, each on its own keep-alive connection, for ``seconds``."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    start_gate = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client(n: int) -> None:
        rng = random.Random(n)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        start_gate.wait()
        while time.perf_counter() < stop_at[0]:
            target = targets[rng.randrange(len(targets))]
            headers = {"Authorization": f"Bearer {target.key}"}
            if target.content_type:
                headers["Content-Type"] = target.content_type
            began = time.perf_counter()
            try:
                connection.request(method, target.path, body=target.body or None, headers=headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                ok = False
            if ok:
                latencies[n].append(time.perf_counter() - began)
            else:
                errors[n] += 1
        connection.close()

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    start_gate.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    flat = [x for per_client in latencies for x in per_client]
    return Result(len(flat), len(flat) * images_per_request, elapsed, flat, sum(errors))


def multipart(images: list[bytes]) -> tuple[bytes, str]:
    boundary = "modelhousebench"
    body = io.BytesIO()
    for n, image in enumerate(images):
        body.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{n}.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
        )
        body.write(image + b"\r\n")
    body.write(f"--{boundary}--\r\n".encode())
    return body.getvalue(), f"multipart/form-data; boundary={boundary}"


def photo(seed: int, size=(96, 96)) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


# -- the stack ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_stack(port: int, metering: bool, redis_offset: str | None = None) -> subprocess.Popen:
    env = {
        **os.environ,
        "INFERENCE_METERING": "true" if metering else "false",
        "WEB_CONCURRENCY": "2",
    }
    if redis_offset is not None:
        env["MODELHOUSE_REDIS_DB_OFFSET"] = redis_offset
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runstack", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request(
                "GET",
                "/healthz/details",
                headers={"Authorization": f"Bearer {ENV['HEALTH_DETAILS_TOKEN']}"},
            )
            if connection.getresponse().status == 200:
                return process
        except OSError:
            pass
        time.sleep(0.5)
    stop_stack(process)
    raise RuntimeError("the stack did not become healthy")


def stop_stack(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=60)


def prepare(models: int, tenants: int):
    """Tenants with keys, the base model and ``models`` head-only tenant models."""
    import django

    django.setup()
    from django.core.management import call_command

    from core.context import tenant_context
    from inference.registry import base_model_register, committed_base_dir_list
    from inference.services import model_version_create
    from ml.artifacts import ArtifactMetadata, BaseReference, HeadWeights, save_artifact
    from tenants import services
    from tenants.roles import Scope

    call_command("setup_database", verbosity=0)
    base = base_model_register(committed_base_dir_list()[0])
    rng = np.random.default_rng(0)
    handles, tenant_models = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for t in range(tenants):
            tenant, owner = services.tenant_create(
                name=f"bench {t}", owner_email=f"bench{t}@bench.test"
            )
            with tenant_context(tenant):
                key = services.api_key_create(
                    tenant, actor=owner, name="bench", scopes=[s.value for s in Scope]
                ).secret
                handles.append(key)
                for m in range(models // tenants):
                    labels = [f"class-{i}" for i in range(int(rng.integers(2, 20)))]
                    directory = Path(scratch) / f"{t}-{m}"
                    metadata = save_artifact(
                        directory,
                        ArtifactMetadata(
                            kind="head",
                            labels=labels,
                            input_shape=base.input_shape,
                            feature_layer=None,
                            base_model=BaseReference(base.name, base.checksum),
                            feature_dim=base.feature_dim,
                        ),
                        head=HeadWeights(
                            rng.normal(size=(base.feature_dim, len(labels))).astype("float32"),
                            np.zeros(len(labels), "float32"),
                        ),
                    )
                    version = model_version_create(
                        tenant,
                        actor=owner,
                        family=f"m{m}",
                        base_model=base,
                        kind="head",
                        artifact_dir=directory,
                        labels=labels,
                        input_shape=base.input_shape,
                        checksum=metadata.checksum,
                    )
                    tenant_models.append((key, version.public_id))
    return base, handles[0], tenant_models


def raw_forward(base, batch: int, seconds: float) -> float:
    """Images/s of the engine's batched forward pass of the base model, in process."""
    from inference.selectors import served_base_model_get
    from ml.artifacts import load_artifact
    from ml.serving import ServingEngine

    served = served_base_model_get(base)
    engine = ServingEngine()
    engine.load_base(load_artifact(served.base_path))
    engine.load(served.public_id, load_artifact(served.artifact_path))
    images = np.random.default_rng(0).integers(0, 256, (batch, *base.input_shape), dtype=np.uint8)
    for _ in range(3):
        engine.predict([(served.public_id, images)])
    count, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        engine.predict([(served.public_id, images)])
        count += batch
    return count / (time.perf_counter() - began)


def paired(numerators: list[float], denominators: list[float]) -> str:
    """Median and range of per-round ratios: each pair was measured seconds apart,
    so drift between rounds cancels out of the ratio."""
    ratios = sorted(n / d for n, d in zip(numerators, denominators, strict=True))
    return f"{ratios[len(ratios) // 2]:5.2f}x ({ratios[0]:.2f}-{ratios[-1]:.2f})"


def line(
    name: str,
    load: Load,
    reference: list[float] | None = None,
    ref_name: str = "",
    unit: str = "images/s",
) -> None:
    result = load.result
    value = result.ips if unit == "images/s" else result.rps
    ratio = f"  {paired(load.ips, reference)} {ref_name}" if reference else ""
    print(
        f"{name:<44} {value:9.1f} {unit:<10} p50 {result.pct(50):7.1f} ms  "
        f"p99 {result.pct(99):7.1f} ms  errors {result.errors}{ratio}",
        flush=True,
    )


@dataclass
class Load:
    """One figure: ``targets`` driven on ``port`` by ``clients`` for each round."""

    port: int
    targets: list[Target]
    clients: int
    images_per_request: int
    method: str = "POST"
    rounds: list[Result] = field(default_factory=list)

    def run(self, seconds: float) -> None:
        self.rounds.append(
            drive(
                self.port,
                self.targets,
                self.clients,
                seconds,
                self.images_per_request,
                method=self.method,
            )
        )

    @property
    def ips(self) -> list[float]:
        return [r.ips for r in self.rounds]

    @property
    def result(self) -> Result:
        """The median round's throughput; latencies and errors of all rounds."""
        median = sorted(self.rounds, key=lambda r: r.ips)[len(self.rounds) // 2]
        return Result(
            median.requests,
            median.images,
            median.seconds,
            [x for r in self.rounds for x in r.latencies],
            sum(r.errors for r in self.rounds),
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0, help="per figure and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--tenants", type=int, default=100)
    args = parser.parse_args()

    base, key, tenant_models = prepare(args.models, args.tenants)
    one = [photo(1)]
    single_body, single_type = multipart(one)
    batch_body, batch_type = multipart([photo(n) for n in range(32)])
    base_single = [Target(f"/v1/models/{base.public_id}/predict", key, single_body, single_type)]
    base_batch = [Target(f"/v1/models/{base.public_id}/predict", key, batch_body, batch_type)]
    mix_single = [
        Target(f"/v1/models/{m}/predict", k, single_body, single_type) for k, m in tenant_models
    ]
    mix_batch = [
        Target(f"/v1/models/{m}/predict", k, batch_body, batch_type) for k, m in tenant_models
    ]

    on_port, off_port = free_port(), free_port()
    # In round order: each figure is measured right next to its reference.
    loads = {
        "single1": Load(on_port, base_single, 1, 1),
        "single8": Load(on_port, base_single, 8, 1),
        "ping": Load(on_port, [Target("/v1/ping", key)], 32, 1, "GET"),
        "single32": Load(on_port, base_single, 32, 1),
        "off_single": Load(off_port, base_single, 32, 1),
        "mix_single": Load(on_port, mix_single, 32, 1),
        "mix_batch": Load(on_port, mix_batch, BATCH_CLIENTS, 32),
        "off_batch": Load(off_port, base_batch, BATCH_CLIENTS, 32),
        "batch": Load(on_port, base_batch, BATCH_CLIENTS, 32),
        "batch4": Load(on_port, base_batch, 4, 32),
    }
    raw_rounds = []
    # Both stacks run at once (the metering-off one on its own Redis databases, so
    # its worker claims only its own lane) and every figure is measured in each
    # round, so machine noise hits references and measurements alike.
    stacks = [
        start_stack(on_port, metering=True),
        start_stack(off_port, metering=False, redis_offset="4"),
    ]
    try:
        for port in (on_port, off_port):
            drive(port, base_single, 8, 2, 1)  # warm-up
        drive(on_port, mix_single, 32, 30.0, 1)  # loads every tenant head once
        for n in range(args.rounds):
            print(f"round {n + 1} of {args.rounds}", flush=True)
            for name, load in loads.items():
                load.run(args.seconds)
                if name == "batch":  # the 32-image figures' reference, between them
                    raw_rounds.append(raw_forward(base, 32, args.seconds))
    finally:
        for stack in stacks:
            stop_stack(stack)

    raw32 = sorted(raw_rounds)[len(raw_rounds) // 2]
    print(
        f"\nmedian of {args.rounds} interleaved rounds of {args.seconds:g} s each; "
        "ratios: median (and range) of the rounds' own ratios\n"
    )
    print(f"{'raw forward pass, batch 32 (in process)':<44} {raw32:9.1f} images/s", flush=True)
    line("bare authenticated GET /v1/ping, 32 clients", loads["ping"], unit="req/s")
    for clients in (1, 8, 32):
        line(f"1-image requests, {clients} clients", loads[f"single{clients}"])
    line("32-image requests, 4 clients", loads["batch4"], raw_rounds, "of raw forward pass")
    line(
        f"32-image requests, {BATCH_CLIENTS} clients",
        loads["batch"],
        raw_rounds,
        "of raw forward pass",
    )
    ping_rps = [r.rps for r in loads["ping"].rounds]
    print(
        f"{'1-image @32 clients vs bare endpoint':<44} {loads['single32'].result.rps:9.1f} "
        f"req/s{'':34}{paired(loads['single32'].ips, ping_rps)} of /v1/ping"
    )
    line(
        f"1-image, 32 clients, {len(tenant_models)} tenant models",
        loads["mix_single"],
        loads["single32"].ips,
        "of one model",
    )
    line(
        f"32-image, {BATCH_CLIENTS} clients, {len(tenant_models)} tenant models",
        loads["mix_batch"],
        loads["batch"].ips,
        "of one model",
    )
    line("1-image, 32 clients, metering OFF", loads["off_single"])
    print(
        f"{'metering cost, 1-image @32 clients':<44} "
        f"{paired(loads['single32'].ips, loads['off_single'].ips)} of throughput without "
        "metering"
    )
    line(f"32-image, {BATCH_CLIENTS} clients, metering OFF", loads["off_batch"])
    print(
        f"{'metering cost, 32-image requests':<44} "
        f"{paired(loads['batch'].ips, loads['off_batch'].ips)} of throughput without metering"
    )


if __name__ == "__main__":
    main()
