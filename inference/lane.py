"""The inference lane: how a prediction request travels from the web process to
an inference worker, and how the worker holds it until its result is stored.

A request is one entry of the Redis list ``mh:lane:<queue>``, pushed with a
single ``RPUSH``: a first line ``<prediction id> <attempt>``, a line of JSON
(tenant, model location, top-k, meter, key, mode) and the decoded ``uint8``
pixels.  (It used to be a Celery task per request with the pixels stored
beside it: the broker's per-message bookkeeping — envelope, unacked hash and
index, a pool thread per task, two acknowledgement round trips — cost the
worker more CPU than the forward pass of the image.)

A worker claims entries in batches, atomically moving them from the lane onto
its own claim list ``mh:lane:<queue>:claimed:<node>:<pid>`` (``BLMOVE`` for
the first, a Lua script for the rest).  Entries leave the claim list only once the
batch they belong to is stored: the worker finishes its entries in claim
order, so acknowledging is trimming the oldest ``k``.  A worker that dies
leaves its claims behind; they go back to the head of the lane when it
restarts under the same node name, or when another worker sees that the dead
one's heartbeat (``core.worker_health``) has expired.  Each return raises the
entry's attempt count; the worker fails an entry that has been claimed
``MAX_ATTEMPTS`` times instead of letting it take down worker after worker.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

import numpy as np
import redis

from core import redis as core_redis
from core.redis import Use
from core.worker_health import heartbeat_key

MAX_ATTEMPTS = 3

# Move up to ARGV[1] entries from the lane (KEYS[1]) onto a claim list (KEYS[2]);
# returns the claim list's epoch (KEYS[3]) first.
_CLAIM = """
local claimed = {redis.call('GET', KEYS[3]) or '0'}
for i = 1, tonumber(ARGV[1]) do
  local entry = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
  if not entry then break end
  claimed[i + 1] = entry
end
return claimed
"""

# Put a claim list (KEYS[1]) back at the head of the lane (KEYS[2]) in its order,
# each entry's attempt count raised, and start its next epoch (KEYS[4]); unless
# its owner's heartbeat (KEYS[3]) lives.
_RETURN = """
if ARGV[1] == 'if-dead' and redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
local entries = redis.call('LRANGE', KEYS[1], 0, -1)
for i = #entries, 1, -1 do
  local id, attempt, rest = string.match(entries[i], '^(%S+) (%d+)\\n(.*)$')
  if id then
    redis.call('LPUSH', KEYS[2], id .. ' ' .. (tonumber(attempt) + 1) .. '\\n' .. rest)
  end
end
redis.call('DEL', KEYS[1])
redis.call('INCR', KEYS[4])
return #entries
"""

# Drop the oldest claims (KEYS[1]) that were made in the list's current epoch
# (KEYS[2]): ARGV holds (epoch, count) pairs; claims of an earlier epoch were
# returned to the lane meanwhile and are no longer in the list.
_ACK = """
local epoch = redis.call('GET', KEYS[2]) or '0'
local count = 0
for i = 1, #ARGV, 2 do
  if ARGV[i] == epoch then count = count + tonumber(ARGV[i + 1]) end
end
if count > 0 then redis.call('LTRIM', KEYS[1], count, -1) end
return count
"""


class MalformedEntry(ValueError):
    pass


@dataclass(frozen=True)
class Entry:
    prediction_id: str
    attempt: int
    payload: dict
    images: np.ndarray


def redis_client() -> redis.Redis:
    """The lane's and the replies' Redis (inference.exchange)."""
    return core_redis.client(Use.LANE)


def lane_key(queue: str) -> str:
    return f"mh:lane:{queue}"


def claim_key(queue: str, node: str, pid: int | str) -> str:
    # Per process, not per node: two processes misconfigured with one node name
    # must not acknowledge each other's claims.
    return f"mh:lane:{queue}:claimed:{node}:{pid}"


def _epoch_key(claims: str | bytes) -> str:
    """Counts how often a claim list was returned to the lane (by the Lua scripts)."""
    name = claims.decode() if isinstance(claims, bytes) else claims
    return name.replace(":claimed:", ":epoch:", 1)


def encode(payload: dict, images: np.ndarray, attempt: int = 0) -> bytes:
    header = {**payload, "shape": list(images.shape), "enqueued_at": time.time()}
    return (
        f"{payload['prediction_id']} {attempt}\n".encode()
        + json.dumps(header).encode()
        + b"\n"
        + np.ascontiguousarray(images, dtype=np.uint8).tobytes()
    )


def decode(raw: bytes) -> Entry:
    try:
        first, header, pixels = raw.split(b"\n", 2)
        prediction_id, attempt = first.decode().split(" ")
        payload = json.loads(header)
        payload["attempt"] = int(attempt)
        images = np.frombuffer(pixels, dtype=np.uint8).reshape(payload["shape"])
        return Entry(prediction_id, int(attempt), payload, images)
    except (ValueError, KeyError, TypeError) as exc:
        raise MalformedEntry(f"unreadable lane entry: {exc}") from exc


def with_attempt(raw: bytes, attempt: int) -> bytes:
    """``raw`` with its attempt count replaced."""
    first, rest = raw.split(b"\n", 1)
    return first.split(b" ")[0] + f" {attempt}\n".encode() + rest


def enqueue(payload: dict, images: np.ndarray, queue: str = "inference") -> None:
    redis_client().rpush(lane_key(queue), encode(payload, images))


class Claims:
    """One worker's side of the lane: claim, acknowledge, return what the dead left.

    Every claim carries the claim list's epoch, which moves when the list is
    returned to the lane (its owner looked dead: a frozen process misses its
    heartbeat too).  Acknowledging counts only claims of the current epoch, so
    a worker that wakes up after its claims were returned never trims the
    newer ones in their place.
    """

    def __init__(self, queue: str, node: str) -> None:
        self.queue, self.node = queue, node
        self.lane, self.mine = lane_key(queue), claim_key(queue, node, os.getpid())
        self.epoch = _epoch_key(self.mine)
        client = redis_client()
        self._claim = client.register_script(_CLAIM)
        self._return = client.register_script(_RETURN)
        self._ack = client.register_script(_ACK)

    def claim(self, limit: int, block_s: float) -> list[tuple[bytes, str]]:
        """Up to ``limit`` (entry, epoch) pairs; waits up to ``block_s`` for the first."""
        keys = [self.lane, self.mine, self.epoch]
        epoch, *entries = self._claim(keys=keys, args=[limit])
        if entries or block_s <= 0:
            return [(entry, epoch.decode()) for entry in entries]
        before = redis_client().get(self.epoch) or b"0"
        first = redis_client().blmove(self.lane, self.mine, block_s, "LEFT", "RIGHT")
        if first is None:
            return []
        epoch, *entries = self._claim(keys=keys, args=[limit - 1])
        return [(first, before.decode()), *((entry, epoch.decode()) for entry in entries)]

    def ack(self, epochs: list[str]) -> None:
        """The oldest claims, made in ``epochs`` (one per claim), are stored: drop them."""
        self._release(epochs)

    def give_back(self, entries: list[bytes], epochs: list[str]) -> None:
        """The oldest claims (``epochs``, one per claim) could not be stored: ``entries``
        (those worth another try) go back to the lane, and none of them stays claimed."""
        pipe = redis_client().pipeline(transaction=True)
        if entries:
            pipe.rpush(self.lane, *entries)
        self._release(epochs, pipe)
        pipe.execute()

    def _release(self, epochs: list[str], client=None) -> None:
        counts: dict[str, int] = {}
        for epoch in epochs:
            counts[epoch] = counts.get(epoch, 0) + 1
        if counts:
            self._ack(
                keys=[self.mine, self.epoch],
                args=[item for pair in counts.items() for item in pair],
                client=client,
            )

    def return_own(self) -> int:
        """On start: what this node's earlier processes claimed goes back to the lane."""
        return sum(
            self._return(keys=[key, self.lane, "", _epoch_key(key)], args=["always"])
            for key in redis_client().scan_iter(
                match=claim_key(self.queue, self.node, "*"), count=100
            )
        )

    def return_dead(self) -> int:
        """Claims of workers on this queue whose heartbeat has expired go back."""
        returned = 0
        prefix = claim_key(self.queue, "", "")[:-1]  # ends "claimed:"
        for key in redis_client().scan_iter(match=f"{prefix}*", count=100):
            node = key.decode()[len(prefix) :].rpartition(":")[0]
            if node != self.node:
                returned += self._return(
                    keys=[key, self.lane, heartbeat_key(self.queue, node), _epoch_key(key)],
                    args=["if-dead"],
                )
        return returned
