"""The inference lane on real Redis: claims, acknowledgements, returns of what
dead workers held, and what the worker does when storing a round fails."""

import time

import numpy as np
import pytest
from django.db import OperationalError

from core.worker_health import heartbeat_key
from inference import lane
from inference.runtime import worker
from inference.runtime.batcher import Job
from inference.runtime.consumer import LaneConsumer

QUEUE = "inference-lane-test"


@pytest.fixture
def redis_lane():
    client = lane.redis_client()
    keys = lambda: client.keys(f"mh:lane:{QUEUE}*")  # noqa: E731
    client.delete(*keys() or ["-"])
    yield client
    client.delete(*keys() or ["-"])


def _payload(n: int, mode: str = "async") -> dict:
    return {
        "tenant_id": 1,
        "prediction_id": f"pred_lane{n}",
        "mode": mode,
        "model": {"id": "mdl_x"},
        "top_k": 1,
        "meter": "images_base",
        "api_key_ref": "",
    }


def _ids(client, key) -> list[tuple[str, int]]:
    return [(e.prediction_id, e.attempt) for e in map(lane.decode, client.lrange(key, 0, -1))]


def test_entries_round_trip_with_their_pixels():
    images = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    entry = lane.decode(lane.encode(_payload(1), images))
    assert entry.prediction_id == "pred_lane1" and entry.attempt == 0
    assert np.array_equal(entry.images, images) and entry.payload["shape"] == [2, 4, 4, 3]
    with pytest.raises(lane.MalformedEntry):
        lane.decode(b"garbage")


def test_claims_are_acknowledged_oldest_first_and_dead_workers_claims_return(redis_lane):
    for n in range(3):
        lane.enqueue(_payload(n), np.zeros((1, 2, 2, 3), np.uint8), queue=QUEUE)
    dead, alive = lane.Claims(QUEUE, "dead@host"), lane.Claims(QUEUE, "alive@host")
    claimed = dead.claim(2, block_s=0)
    assert len(claimed) == 2
    dead.ack([claimed[0][1]])  # pred_lane0 stored; pred_lane1 still held
    assert _ids(redis_lane, dead.mine) == [("pred_lane1", 0)]

    redis_lane.set(heartbeat_key(QUEUE, "dead@host"), "1", ex=10)
    assert alive.return_dead() == 0  # its heartbeat lives: not dead yet
    redis_lane.delete(heartbeat_key(QUEUE, "dead@host"))
    assert alive.return_dead() == 1
    # Back at the head of the lane, one attempt more, and no longer claimed.
    assert _ids(redis_lane, alive.lane) == [("pred_lane1", 1), ("pred_lane2", 0)]
    assert not redis_lane.exists(dead.mine)

    # It was only frozen: it claims again, then finishes pred_lane1 from before.
    ((_newer, epoch),) = dead.claim(1, block_s=0)
    dead.ack([claimed[1][1]])  # the returned claim: nothing of the newer one goes
    assert _ids(redis_lane, dead.mine) == [("pred_lane1", 1)]
    dead.ack([epoch])
    assert not redis_lane.exists(dead.mine)


class _Runtime(worker.InferenceRuntime):
    """The real finish stage on a real lane, without the engine or its threads."""

    def __init__(self, claims):
        self.consumer = LaneConsumer(claims, submit=lambda job: None, capacity=8, backlog=8)


def _claimed_jobs(claims, entries):
    for raw in entries:
        lane.redis_client().rpush(claims.lane, raw)
    return [
        Job(
            raw=raw,
            epoch=epoch,
            payload=lane.decode(raw).payload,
            images=lane.decode(raw).images,
            result={"status": "succeeded", "results": []},
        )
        for raw, epoch in claims.claim(len(entries), block_s=0)
    ]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (OperationalError("database down"), [("pred_lane0", 0), ("pred_lane1", 2)]),
        (ValueError("a bad row"), [("pred_lane0", 1)]),  # pred_lane1 used its attempts
    ],
)
def test_a_round_that_cannot_be_stored_goes_back_or_is_dropped(
    redis_lane, monkeypatch, error, expected
):
    claims = lane.Claims(QUEUE, "worker@host")
    images = np.zeros((1, 2, 2, 3), np.uint8)
    jobs = _claimed_jobs(
        claims,
        [lane.encode(_payload(0), images), lane.encode(_payload(1, "sync"), images, attempt=2)],
    )

    def fail(outcomes):
        raise error

    monkeypatch.setattr(worker, "record_outcomes", fail)
    runtime = _Runtime(claims)
    runtime._finish(jobs)
    assert _ids(redis_lane, claims.lane) == expected
    assert not redis_lane.exists(claims.mine)  # nothing stays claimed


def test_computed_entries_waiting_to_be_stored_leave_room_to_claim_up_to_the_backlog(redis_lane):
    """A slow store must not idle the forward pass: only entries waiting for it
    count against capacity, and everything claimed against the backlog."""
    claims = lane.Claims(QUEUE, "worker@host")
    images = np.zeros((1, 2, 2, 3), np.uint8)
    for n in range(12):
        redis_lane.rpush(claims.lane, lane.encode(_payload(n), images))
    submitted = []
    consumer = LaneConsumer(claims, submit=submitted.append, capacity=4, backlog=8)

    def claimed_after(step, expected: int) -> int:
        step()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(submitted) < expected:
            time.sleep(0.01)
        time.sleep(0.2)  # anything more it would wrongly claim arrives meanwhile
        return len(submitted)

    try:
        assert claimed_after(consumer.start, 4) == 4  # capacity: 4 wait for a forward pass
        assert claimed_after(lambda: consumer.computed(4), 8) == 8  # computed, not stored
        assert claimed_after(lambda: consumer.computed(4), 8) == 8  # backlog: 8 not stored
        assert claimed_after(lambda: consumer.done(4), 12) == 12
    finally:
        consumer.stop(timeout_s=0)
    assert redis_lane.llen(claims.lane) == 0
