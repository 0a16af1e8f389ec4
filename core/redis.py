"""Every Redis connection of the app, owned here: one client (and pool) per use.

Two logical databases (see saas.config.redis_db): ``REDIS_LANE_URL`` holds the
inference lane, its replies and the worker heartbeats (the lane's Lua scripts
read heartbeats, so they must share a database); ``REDIS_COUNTERS_URL`` holds
rate limits and running spend totals, which must never be evicted.  Celery's
broker and result backend and Django's cache open their own connections from
their settings.

Clients are created on first use and cached per process; redis-py's pools
notice a fork and reconnect in the child.
"""

from __future__ import annotations

import threading
from enum import StrEnum

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry


class Use(StrEnum):
    # Blocking reads (BLMOVE, BLPOP) wait longer than any socket timeout would
    # allow; a down Redis still fails fast on connect (the web answers 503).
    LANE = "lane"
    # Heartbeats are written by a worker thread and read by /healthz/details: short
    # commands that must never hang either.
    HEARTBEATS = "heartbeats"
    # Rate limits and spend checks sit on every request's path: answered fast or not at all.
    COUNTERS = "counters"


_FAIL_FAST = {"socket_connect_timeout": 2, "retry": Retry(NoBackoff(), 1)}
_OPTIONS = {
    Use.LANE: ("REDIS_LANE_URL", _FAIL_FAST),
    Use.HEARTBEATS: ("REDIS_LANE_URL", {**_FAIL_FAST, "socket_timeout": 2}),
    Use.COUNTERS: ("REDIS_COUNTERS_URL", {**_FAIL_FAST, "socket_timeout": 0.5}),
}

_clients: dict[Use, redis.Redis] = {}
_lock = threading.Lock()


def client(use: Use) -> redis.Redis:
    """The shared client for ``use``."""
    found = _clients.get(use)
    if found is None:
        with _lock:
            found = _clients.get(use)
            if found is None:
                setting, options = _OPTIONS[use]
                found = _clients[use] = redis.Redis.from_url(getattr(settings, setting), **options)
    return found
