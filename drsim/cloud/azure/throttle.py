"""Client-side throttling: one token bucket per ARM operation class, so a drill stays under ARM's limits.

ARM throttles each subscription with token buckets per region: reads 250 refilling 25 per second,
writes 200 at 10 per second, deletes 200 at 10 per second
(azure-resource-manager/management/request-limits-and-throttling, azure-sdk-notes.md). The policy
sits after the SDK's RetryPolicy, so every attempt (first tries, retries and long-running-operation
polls) takes a token. When ARM still answers 429, its Retry-After pauses the whole class, not only
the request that met it; the SDK's RetryPolicy then retries that request after Retry-After.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import AsyncHTTPPolicy

from drsim.cloud.azure.errors import DEFAULT_RETRY_AFTER
from drsim.engine.clock import Clock


class OperationClass(StrEnum):
    """ARM's three throttling classes, by HTTP method."""

    READ = "read"
    WRITE = "write"
    DELETE = "delete"

    @classmethod
    def of(cls, method: str) -> OperationClass:
        method = method.upper()
        if method in ("GET", "HEAD", "OPTIONS"):
            return cls.READ
        if method == "DELETE":
            return cls.DELETE
        return cls.WRITE


@dataclass(frozen=True)
class BucketLimit:
    capacity: float
    refill_per_s: float

    def __post_init__(self) -> None:
        if self.capacity < 1 or self.refill_per_s <= 0:
            raise ValueError(f"a token bucket needs capacity >= 1 and a positive refill rate, got {self}")


# request-limits-and-throttling: the per-subscription, per-region token buckets of ARM.
ARM_LIMITS: dict[OperationClass, BucketLimit] = {
    OperationClass.READ: BucketLimit(capacity=250, refill_per_s=25),
    OperationClass.WRITE: BucketLimit(capacity=200, refill_per_s=10),
    OperationClass.DELETE: BucketLimit(capacity=200, refill_per_s=10),
}


class TokenBucket:
    """A token bucket that hands out reservations: `reserve()` says how long to wait for the next token.

    Reservations queue in order (tokens may go below zero), so concurrent callers are served first
    come first served and the long-run rate never exceeds `refill_per_s`.
    """

    def __init__(self, limit: BucketLimit, clock: Callable[[], float]) -> None:
        self.limit = limit
        self._clock = clock
        self._tokens = limit.capacity
        self._stamp = clock()
        self.paused_until = float("-inf")

    def _refill(self, now: float) -> None:
        self._tokens = min(self.limit.capacity, self._tokens + (now - self._stamp) * self.limit.refill_per_s)
        self._stamp = now

    def reserve(self) -> float:
        """Take one token now or in the future; the seconds until it may be used."""
        now = self._clock()
        self._refill(now)
        self._tokens -= 1
        wait = 0.0 if self._tokens >= 0 else -self._tokens / self.limit.refill_per_s
        return max(wait, self.paused_until - now)

    def pause(self, seconds: float) -> None:
        """The server said Retry-After: no token is usable before then."""
        self.paused_until = max(self.paused_until, self._clock() + seconds)


@dataclass
class ThrottleStats:
    """What throttling did during a run: requests per class, 429s met, seconds spent waiting."""

    requests: dict[OperationClass, int] = field(default_factory=lambda: dict.fromkeys(OperationClass, 0))
    throttled: dict[OperationClass, int] = field(default_factory=lambda: dict.fromkeys(OperationClass, 0))
    waited_s: float = 0.0


class Throttle:
    """The buckets of one subscription, shared by every client of a drill (each gets its own policy).

    Buckets run on the provider's clock: real time against Azure, the emulator's world time against
    the ARM emulator (whose buckets refill in world time). Retry-After is in real seconds: it is
    scaled by the clock's speed onto the bucket's time line.
    """

    def __init__(
        self, limits: dict[OperationClass, BucketLimit] | None = None, *, enabled: bool = True, clock: Clock | None = None
    ) -> None:
        self.limits = dict(ARM_LIMITS if limits is None else limits)
        self.enabled = enabled
        self.clock = clock
        self.speed = float(getattr(clock, "speed", 1.0))
        self.stats = ThrottleStats()
        self._buckets: dict[OperationClass, TokenBucket] = {}

    def _time(self) -> float:
        if self.clock is None:
            return asyncio.get_running_loop().time()
        return self.clock.now().timestamp()

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of the buckets' time."""
        if self.clock is None:
            await asyncio.sleep(seconds)
        else:
            await self.clock.sleep(seconds)

    def bucket(self, kind: OperationClass) -> TokenBucket:
        bucket = self._buckets.get(kind)
        if bucket is None:
            bucket = self._buckets[kind] = TokenBucket(self.limits[kind], self._time)
        return bucket

    def policy(self) -> ThrottlePolicy:
        """A fresh pipeline policy drawing on these buckets (a policy instance belongs to one pipeline)."""
        return ThrottlePolicy(self)


class ThrottlePolicy(AsyncHTTPPolicy):
    """An azure-core per-retry policy: wait for the class's token, and pause the class on a 429."""

    def __init__(self, throttle: Throttle) -> None:
        super().__init__()
        self.throttle = throttle

    async def send(self, request: PipelineRequest) -> PipelineResponse:
        throttle = self.throttle
        kind = OperationClass.of(request.http_request.method)
        throttle.stats.requests[kind] += 1
        if throttle.enabled:
            wait = throttle.bucket(kind).reserve()
            if wait > 0:
                throttle.stats.waited_s += wait
                await throttle.sleep(wait)
        response = await self.next.send(request)
        if response.http_response.status_code == 429:
            throttle.stats.throttled[kind] += 1
            header = response.http_response.headers.get("Retry-After")
            try:
                seconds = float(header) if header is not None else DEFAULT_RETRY_AFTER
            except ValueError:
                seconds = DEFAULT_RETRY_AFTER
            if throttle.enabled:
                throttle.bucket(kind).pause(seconds * throttle.speed)
        return response
