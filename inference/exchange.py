"""Replies to synchronous predictions, through Redis.

The web process blocks on ``BLPOP`` for its prediction's reply; the worker
pushes the replies of a stored batch in one pipeline.  Cheaper than Celery's
result backend, which subscribes and unsubscribes a pub/sub channel per call.
Keys are the prediction's random public id, which only its caller knows.
(Requests travel the other way through ``inference.lane``.)
"""

from __future__ import annotations

import json

from inference.lane import redis_client

REPLY_TTL_S = 120


def _reply_key(prediction_id: str) -> str:
    return f"mh:reply:{prediction_id}"


def send_replies(replies: list[tuple[str, dict]]) -> None:
    """``replies``: (prediction id, reply) pairs."""
    if not replies:
        return
    pipe = redis_client().pipeline(transaction=False)
    for prediction_id, reply in replies:
        pipe.rpush(_reply_key(prediction_id), json.dumps(reply))
        pipe.expire(_reply_key(prediction_id), REPLY_TTL_S)
    pipe.execute()


def wait_reply(prediction_id: str, timeout_s: float) -> dict | None:
    """The worker's reply, or None after ``timeout_s``."""
    item = redis_client().blpop([_reply_key(prediction_id)], timeout=timeout_s)
    return None if item is None else json.loads(item[1])
