"""The one retry policy of the engine: how a provider call is made again (executor, cleanup, discovery).

- ARM throttling is not a failure: the call is made again after ARM's retry-after, spread with full
  jitter over a window that doubles each time (to a minute), for up to MAX_THROTTLED_WAIT_S in all
  (azure-sdk-notes.md). It uses none of a step's retries.
- A retryable failure (TransientError, CapacityError) is retried after an exponential backoff with
  seeded jitter (BACKOFF_BASE_S doubling to BACKOFF_CAP_S), never sooner than a retry-after.
- Outside a task (discovery, cleanup) every failure is journaled as call.failed, retried or not.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from drsim.clock import Clock
from drsim.errors import ProviderError, ThrottledError
from drsim.measure.events import CallFailed, Event

T = TypeVar("T")

MAX_THROTTLED_WAIT_S = 3600.0
"""An operation that ARM keeps throttling gives up after this long in all."""
THROTTLE_SPREAD_CAP_S = 60.0
BACKOFF_BASE_S = 30.0
BACKOFF_CAP_S = 15 * 60.0


def throttle_delay(rng: random.Random, throttled: int, retry_after: float) -> float:
    """How long to wait before the `throttled`-th retry of a throttled call: never sooner than ARM's
    retry-after, and spread with full jitter over a window that doubles each time (to a minute), so
    that a thousand calls refused together do not all come back together."""
    spread = rng.uniform(0.0, min(THROTTLE_SPREAD_CAP_S, 2.0**throttled))
    return round(max(retry_after, spread), 3)


def backoff_delay(rng: random.Random, attempt: int, exc: BaseException | None = None) -> float:
    """How long to wait after the `attempt`-th failure: exponential backoff with seeded jitter; never
    sooner than a throttling retry-after."""
    base = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1))
    delay = round(base * rng.uniform(0.5, 1.0), 3)
    if isinstance(exc, ThrottledError):
        delay = max(delay, exc.retry_after)
    return delay


class ThrottledCall:
    """The waits of one call that ARM throttles: throttle_delay each time, up to MAX_THROTTLED_WAIT_S in all."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.refusals = 0
        self.waited = 0.0

    def delay(self, refused: ThrottledError) -> float:
        """Seconds to wait before calling again; re-raises `refused` once the call has waited long enough."""
        self.refusals += 1
        delay = throttle_delay(self.rng, self.refusals, refused.retry_after)
        self.waited += delay
        if self.waited > MAX_THROTTLED_WAIT_S:
            raise refused
        return delay


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    what: str,
    attempts: int,
    clock: Clock,
    rng: random.Random,
    emit: Callable[[Event], None],
    refused: ProviderError | None = None,
) -> T:
    """Make one provider call outside a task (discovery, cleanup), retried by the policy above, at most
    `attempts` times for failures; each failure is journaled (call.failed), the last one re-raised.
    `refused`: the caller already made the call once and it failed so (a fast first attempt)."""
    throttled = ThrottledCall(rng)
    failures = 0
    while True:
        try:
            if refused is not None:  # the call was made once already: its failure is handled as any other
                failure, refused = refused, None
                raise failure
            return await call()
        except ThrottledError as exc:
            try:
                delay = throttled.delay(exc)
            except ThrottledError:
                emit(CallFailed(at=clock.now(), call=what, attempt=failures + 1, error=str(exc), retry_in_s=None))
                raise
            await clock.sleep(delay)
        except ProviderError as exc:
            failures += 1
            if not exc.retryable or failures >= attempts:
                emit(CallFailed(at=clock.now(), call=what, attempt=failures, error=str(exc), retry_in_s=None))
                raise
            backoff = backoff_delay(rng, failures)
            emit(CallFailed(at=clock.now(), call=what, attempt=failures, error=str(exc), retry_in_s=backoff))
            await clock.sleep(backoff)
