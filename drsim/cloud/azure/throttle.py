"""Client-side throttling: one token bucket per ARM operation class, so a drill stays under ARM's limits.

ARM throttles each subscription with token buckets per region: reads 250 refilling 25 per second,
writes 200 at 10 per second, deletes 200 at 10 per second
(azure-resource-manager/management/request-limits-and-throttling, azure-sdk-notes.md); drsim keeps
90 % of each (HEADROOM). The policy sits after the SDK's RetryPolicy, so every attempt (first
tries, retries and long-running-operation polls) takes a token. When ARM still answers 429, its Retry-After pauses the whole class, not only
the request that met it; the SDK's RetryPolicy then retries that request after Retry-After.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import AsyncHTTPPolicy

from drsim.clock import Clock
from drsim.cloud.azure.errors import DEFAULT_RETRY_AFTER


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
HEADROOM = 0.9
"""drsim uses 90 % of each ARM bucket: other clients of the subscription (the portal, automation)
draw on the same buckets, and requests released at the exact refill rate arrive with network
jitter, some of them ahead of the server's refill."""


def client_limits(limits: dict[OperationClass, BucketLimit] = ARM_LIMITS, headroom: float = HEADROOM) -> dict[OperationClass, BucketLimit]:
    """The client-side buckets: ARM's, scaled by the headroom."""
    return {kind: BucketLimit(max(1.0, limit.capacity * headroom), limit.refill_per_s * headroom) for kind, limit in limits.items()}


_EPSILON = 1e-6


class TokenBucket:
    """A token bucket: `take()` takes a token now, or says how long until one may be taken.

    `pause()` is ARM's Retry-After: nothing before then, and the bucket restarts empty, so the
    requests that waited resume at the refill rate instead of all at once.
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

    def take(self) -> float:
        """0.0 when a token was taken; else the seconds to wait before trying again."""
        now = self._clock()
        if now < self.paused_until:
            return self.paused_until - now
        if now < self._stamp:
            self._stamp = now  # the clock went back (a slower speed): no time has passed
        self._refill(now)
        # A token short by a rounding error counts as whole: a wait of a few ulps would never pass.
        if self._tokens >= 1 - _EPSILON:
            self._tokens = max(0.0, self._tokens - 1)
            return 0.0
        return (1 - self._tokens) / self.limit.refill_per_s

    def pause(self, seconds: float) -> None:
        """The server said Retry-After: no token before then, and none saved up from before."""
        now = self._clock()
        self.paused_until = max(self.paused_until, now + seconds)
        self._tokens = 0.0
        self._stamp = self.paused_until


@dataclass
class ThrottleStats:
    """What throttling did during a run: requests per class, 429s met, seconds spent waiting."""

    requests: dict[OperationClass, int] = field(default_factory=lambda: dict.fromkeys(OperationClass, 0))
    throttled: dict[OperationClass, int] = field(default_factory=lambda: dict.fromkeys(OperationClass, 0))
    waited_s: float = 0.0


class Throttle:
    """The buckets of one subscription, shared by every client of a drill (each gets its own policy).

    Buckets run on monotonic time: real seconds against Azure, world seconds (real seconds times the
    clock's speed) against the ARM emulator, whose buckets refill in world time. Retry-After is in
    real seconds: it is scaled by the speed onto the buckets' time line.
    """

    def __init__(
        self, limits: dict[OperationClass, BucketLimit] | None = None, *, enabled: bool = True, clock: Clock | None = None
    ) -> None:
        self.limits = dict(client_limits() if limits is None else limits)
        self.enabled = enabled
        self.clock = clock
        self.stats = ThrottleStats()
        self._buckets: dict[OperationClass, TokenBucket] = {}
        self._queues: dict[OperationClass, asyncio.Lock] = {}

    async def acquire(self, kind: OperationClass) -> None:
        """Wait for a token of the class; waiters are served first come, first served."""
        queue = self._queues.setdefault(kind, asyncio.Lock())
        async with queue:
            bucket = self.bucket(kind)
            while (wait := bucket.take()) > 0:
                self.stats.waited_s += wait
                await self.sleep(wait)

    @property
    def speed(self) -> float:
        """World seconds per real second of the clock (1 for the wall clock)."""
        return float(getattr(self.clock, "speed", 1.0))

    def _time(self) -> float:
        return asyncio.get_running_loop().time() * self.speed

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
            await throttle.acquire(kind)
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
