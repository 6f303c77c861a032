"""The client-side token buckets: ARM's limits per operation class, and Retry-After pausing a class."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drsim.cloud.azure.throttle import ARM_LIMITS, BucketLimit, OperationClass, Throttle, TokenBucket, client_limits


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def drain(bucket: TokenBucket, clock: FakeTime, count: int) -> list[float]:
    """Take `count` tokens one after the other, waiting as told; the instants they were granted at."""
    granted = []
    for _ in range(count):
        while (wait := bucket.take()) > 0:
            clock.now += wait
        granted.append(clock.now)
    return granted


def test_operation_classes_follow_the_http_method():
    assert OperationClass.of("get") is OperationClass.READ
    assert OperationClass.of("HEAD") is OperationClass.READ
    assert OperationClass.of("PUT") is OperationClass.WRITE
    assert OperationClass.of("POST") is OperationClass.WRITE
    assert OperationClass.of("PATCH") is OperationClass.WRITE
    assert OperationClass.of("DELETE") is OperationClass.DELETE


def test_arm_limits_are_the_documented_ones_and_drsim_keeps_ninety_percent():
    assert ARM_LIMITS[OperationClass.READ] == BucketLimit(250, 25)
    assert ARM_LIMITS[OperationClass.WRITE] == BucketLimit(200, 10)
    assert ARM_LIMITS[OperationClass.DELETE] == BucketLimit(200, 10)
    assert client_limits()[OperationClass.READ] == BucketLimit(225, 22.5)
    assert client_limits()[OperationClass.WRITE] == BucketLimit(180, 9)


def test_a_full_bucket_serves_its_capacity_at_once_then_one_token_per_refill_interval():
    clock = FakeTime()
    bucket = TokenBucket(BucketLimit(200, 10), clock)
    granted = drain(bucket, clock, 203)
    assert granted[:200] == [0.0] * 200
    assert granted[200:] == pytest.approx([0.1, 0.2, 0.3])


def test_tokens_refill_with_time_up_to_capacity():
    clock = FakeTime()
    bucket = TokenBucket(BucketLimit(2, 1), clock)
    assert drain(bucket, clock, 2) == [0.0, 0.0]
    clock.now = 100.0
    assert drain(bucket, clock, 3) == pytest.approx([100.0, 100.0, 101.0])


def test_retry_after_pauses_the_class_and_it_restarts_empty():
    clock = FakeTime()
    bucket = TokenBucket(BucketLimit(250, 25), clock)
    bucket.pause(5)
    assert bucket.take() == 5.0
    clock.now = 2.0
    assert bucket.take() == 3.0
    # After the pause the waiters resume at the refill rate, not as a burst of saved-up tokens.
    clock.now = 5.0
    assert drain(bucket, clock, 3) == pytest.approx([5.04, 5.08, 5.12])


def test_a_limit_needs_a_capacity_and_a_rate():
    with pytest.raises(ValueError):
        BucketLimit(0, 1)
    with pytest.raises(ValueError):
        BucketLimit(10, 0)


@given(st.lists(st.floats(min_value=0, max_value=5), min_size=1, max_size=300), st.integers(1, 50), st.integers(1, 20))
def test_the_granted_rate_never_exceeds_capacity_plus_refill(gaps, capacity, rate):
    """However requests arrive, by any instant t no more than capacity + rate * t are granted."""
    clock = FakeTime()
    bucket = TokenBucket(BucketLimit(capacity, rate), clock)
    granted: list[float] = []
    arrival = 0.0
    for gap in gaps:
        arrival += gap
        clock.now = max(clock.now, arrival)
        granted += drain(bucket, clock, 1)
    for count, at in enumerate(granted, start=1):
        assert count <= capacity + rate * at + 1e-6


def test_concurrent_waiters_are_served_in_arrival_order_at_the_refill_rate():
    throttle = Throttle({kind: BucketLimit(2, 200) for kind in OperationClass})
    order: list[int] = []

    async def request(n: int) -> None:
        await throttle.acquire(OperationClass.WRITE)
        order.append(n)

    async def main() -> None:
        await asyncio.gather(*(request(n) for n in range(6)))

    asyncio.run(main())
    assert order == [0, 1, 2, 3, 4, 5]
