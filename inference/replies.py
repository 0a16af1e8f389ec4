"""Replies to synchronous predictions: one Redis list per prediction id.

The web process blocks on ``BLPOP`` for its prediction's reply; the worker
pushes it after the batch is stored.  Cheaper than Celery's result backend
(which subscribes and unsubscribes a pub/sub channel per call), and the key is
the prediction's random public id, which only its caller knows.
"""

from __future__ import annotations

import json
from functools import cache

import redis
from django.conf import settings

REPLY_TTL_S = 120


@cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])


def _key(prediction_id: str) -> str:
    return f"mh:reply:{prediction_id}"


def send_reply(prediction_id: str, reply: dict) -> None:
    pipe = _client().pipeline()
    pipe.rpush(_key(prediction_id), json.dumps(reply))
    pipe.expire(_key(prediction_id), REPLY_TTL_S)
    pipe.execute()


def wait_reply(prediction_id: str, timeout_s: float) -> dict | None:
    """The worker's reply, or None after ``timeout_s``."""
    item = _client().blpop([_key(prediction_id)], timeout=timeout_s)
    return None if item is None else json.loads(item[1])
