"""The client-side token buckets: ARM's limits per operation class, and Retry-After pausing a class."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drsim.cloud.azure.throttle import ARM_LIMITS, BucketLimit, OperationClass, TokenBucket


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_operation_classes_follow_the_http_method():
    assert OperationClass.of("get") is OperationClass.READ
    assert OperationClass.of("HEAD") is OperationClass.READ
    assert OperationClass.of("PUT") is OperationClass.WRITE
    assert OperationClass.of("POST") is OperationClass.WRITE
    assert OperationClass.of("PATCH") is OperationClass.WRITE
    assert OperationClass.of("DELETE") is OperationClass.DELETE


def test_arm_limits_are_the_documented_ones():
    assert ARM_LIMITS[OperationClass.READ] == BucketLimit(250, 25)
    assert ARM_LIMITS[OperationClass.WRITE] == BucketLimit(200, 10)
    assert ARM_LIMITS[OperationClass.DELETE] == BucketLimit(200, 10)


def test_a_full_bucket_serves_its_capacity_at_once_then_one_token_per_refill_interval():
    clock = FakeTime()
    bucket = TokenBucket(BucketLimit(200, 10), clock)
    waits = [bucket.reserve() for _ in range(203)]
    assert waits[:200] == [0.0] * 200
    assert waits[200:] == pytest.approx([0.1, 0.2, 0.3])


def test_tokens_refill_with_time_up_to_capacity():
    clock = FakeTime()
    bucket = TokenBucket(BucketLimit(2, 1), clock)
    assert [bucket.reserve(), bucket.reserve()] == [0.0, 0.0]
    clock.now = 100.0
    assert [bucket.reserve(), bucket.reserve(), bucket.reserve()] == pytest.approx([0.0, 0.0, 1.0])


def test_retry_after_pauses_every_request_of_the_class():
    clock = FakeTime()
    bucket = TokenBucket(BucketLimit(250, 25), clock)
    bucket.pause(5)
    assert bucket.reserve() == 5.0
    clock.now = 2.0
    assert bucket.reserve() == 3.0
    clock.now = 6.0
    assert bucket.reserve() == 0.0


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
    grants = []
    for gap in gaps:
        clock.now += gap
        grants.append(clock.now + bucket.reserve())
    grants.sort()
    for count, at in enumerate(grants, start=1):
        assert count <= capacity + rate * at + 1e-6
