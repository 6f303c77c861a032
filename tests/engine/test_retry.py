"""The engine's one retry policy (drsim.engine.retry): discovery and cleanup journal every failure."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from drsim.engine.clock import VirtualClock, run_virtual
from drsim.engine.retry import MAX_THROTTLED_WAIT_S, backoff_delay, call_with_retries
from drsim.errors import ConflictError, ThrottledError, TransientError
from drsim.measure.events import CallFailed, Event

T0 = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


def run(failures: list[Exception], attempts: int = 5) -> tuple[object, list[Event]]:
    clock = VirtualClock(T0)
    events: list[Event] = []
    calls = iter(failures)

    async def call() -> str:
        failure = next(calls, None)
        if failure is not None:
            raise failure
        return "listed"

    async def main() -> object:
        try:
            return await call_with_retries(call, what="list", attempts=attempts, clock=clock, rng=random.Random(1), emit=events.append)
        except Exception as exc:
            return exc

    value = run_virtual(main())
    return value, events


def test_a_failure_that_is_not_retryable_is_journaled_and_raised() -> None:
    refused = ConflictError("not allowed")
    value, events = run([refused])
    assert value is refused
    assert events == [CallFailed(at=T0, call="list", attempt=1, error="not allowed", retry_in_s=None)]


def test_transient_failures_are_journaled_with_their_backoff_then_the_call_succeeds() -> None:
    value, events = run([TransientError("503"), TransientError("503")])
    assert value == "listed"
    assert [(e.attempt, e.retry_in_s is not None) for e in events if isinstance(e, CallFailed)] == [(1, True), (2, True)]
    rng = random.Random(1)
    assert [e.retry_in_s for e in events if isinstance(e, CallFailed)] == [backoff_delay(rng, 1), backoff_delay(rng, 2)]


def test_the_last_allowed_failure_is_raised() -> None:
    value, events = run([TransientError("503")] * 3, attempts=3)
    assert isinstance(value, TransientError)
    assert [e.retry_in_s is None for e in events if isinstance(e, CallFailed)] == [False, False, True]


def test_throttling_uses_no_attempt_but_gives_up_after_an_hour_of_waiting() -> None:
    value, events = run([ThrottledError("429", retry_after=5.0)] * 3, attempts=1)
    assert value == "listed" and events == []
    many = [ThrottledError("429", retry_after=600.0)] * (int(MAX_THROTTLED_WAIT_S // 600) + 2)
    value, events = run(many, attempts=1)
    assert isinstance(value, ThrottledError)
    assert len(events) == 1 and isinstance(events[0], CallFailed) and events[0].retry_in_s is None


@pytest.mark.parametrize("attempt", [1, 2, 5, 10])
def test_backoff_doubles_with_jitter_and_never_comes_before_a_retry_after(attempt: int) -> None:
    delay = backoff_delay(random.Random(attempt), attempt)
    base = min(15 * 60.0, 30.0 * 2 ** (attempt - 1))
    assert base * 0.5 <= delay <= base
    assert backoff_delay(random.Random(attempt), attempt, ThrottledError("429", retry_after=10_000.0)) == 10_000.0
