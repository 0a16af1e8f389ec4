"""What travels between the web process and the inference worker beside the
Celery message, through Redis:

* **pixels** — the decoded ``uint8`` images are stored under a key named after
  the prediction and the task message carries only that key (a claim check):
  a 32-image request is ~400 KB that would otherwise be base64-encoded,
  JSON-encoded and copied through the broker twice.  The worker deletes them
  once the prediction is stored; a TTL bounds what an abandoned request leaves.
* **replies** — the web process blocks on ``BLPOP`` for a synchronous
  prediction's reply; the worker pushes it after the batch is stored.  Cheaper
  than Celery's result backend, which subscribes and unsubscribes a pub/sub
  channel per call.

Keys are the prediction's random public id, which only its caller knows.
"""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import redis
from django.conf import settings

REPLY_TTL_S = 120


@cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])


def _pixels_key(prediction_id: str) -> str:
    return f"mh:pixels:{prediction_id}"


def _reply_key(prediction_id: str) -> str:
    return f"mh:reply:{prediction_id}"


def put_pixels(prediction_id: str, images: np.ndarray) -> None:
    _client().set(_pixels_key(prediction_id), images.tobytes(),
                  ex=settings.INFERENCE_INPUT_TTL_S)


def take_pixels(prediction_id: str, shape: list[int]) -> np.ndarray | None:
    """The images stored for ``prediction_id``, or None once gone (expired or done)."""
    data = _client().get(_pixels_key(prediction_id))
    return None if data is None else np.frombuffer(data, dtype=np.uint8).reshape(shape)


def discard_pixels(prediction_ids: list[str]) -> None:
    if prediction_ids:
        _client().delete(*[_pixels_key(p) for p in prediction_ids])


def send_reply(prediction_id: str, reply: dict) -> None:
    pipe = _client().pipeline()
    pipe.rpush(_reply_key(prediction_id), json.dumps(reply))
    pipe.expire(_reply_key(prediction_id), REPLY_TTL_S)
    pipe.execute()


def wait_reply(prediction_id: str, timeout_s: float) -> dict | None:
    """The worker's reply, or None after ``timeout_s``."""
    item = _client().blpop([_reply_key(prediction_id)], timeout=timeout_s)
    return None if item is None else json.loads(item[1])
