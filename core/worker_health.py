"""Worker heartbeats in Redis, read by ``/healthz/details``.

Each worker process refreshes ``mh:workers:<queue>:<hostname>`` every few
seconds with a short TTL, so a dead worker disappears within ``TTL`` seconds
without any broadcast round trip.
"""

from __future__ import annotations

import contextlib
import threading

import redis

from core import redis as core_redis
from core.redis import Use

QUEUES = ("inference", "training", "datasets", "default")
INTERVAL_S, TTL_S = 3, 10


def client() -> redis.Redis:
    return core_redis.client(Use.HEARTBEATS)


def heartbeat_key(queue: str, hostname: str) -> str:
    return f"mh:workers:{queue}:{hostname}"


def beat_once(queues: list[str], hostname: str) -> None:
    pipe = client().pipeline()
    for queue in queues:
        pipe.set(heartbeat_key(queue, hostname), "1", ex=TTL_S)
    pipe.execute()


def start_heartbeat(queues: list[str], hostname: str) -> threading.Event:
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            # Redis down: /healthz/details reports it; keep trying.
            with contextlib.suppress(redis.RedisError):
                beat_once(queues, hostname)
            stop.wait(INTERVAL_S)

    threading.Thread(target=run, name="worker-heartbeat", daemon=True).start()
    return stop


def live_workers() -> dict[str, int]:
    redis_client = client()
    return {
        queue: sum(1 for _ in redis_client.scan_iter(match=heartbeat_key(queue, "*"), count=100))
        for queue in QUEUES
    }
