"""Client-side throttling: one token bucket per ARM request class, so a drill stays under ARM's limits.

ARM throttles each subscription with token buckets per region (drsim.cloud.arm: the catalog's reads
250 refilling 25 per second, writes and deletes 200 at 10 per second; request-limits-and-throttling);
drsim keeps 90 % of each (HEADROOM). The policy sits after the SDK's RetryPolicy, so every attempt (first
tries, retries and long-running-operation polls) takes a token. When ARM still answers 429, its Retry-After pauses the whole class, not only
the request that met it; the SDK's RetryPolicy then retries that request after Retry-After.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import AsyncHTTPPolicy

from drsim.clock import Clock
from drsim.cloud.arm import BucketLimit, RequestClass, TokenBucket, arm_limits
from drsim.cloud.azure.errors import DEFAULT_RETRY_AFTER

HEADROOM = 0.9
"""drsim uses 90 % of each ARM bucket: other clients of the subscription (the portal, automation)
draw on the same buckets, and requests released at the exact refill rate arrive with network
jitter, some of them ahead of the server's refill."""


def client_limits(limits: Mapping[RequestClass, BucketLimit] | None = None, headroom: float = HEADROOM) -> dict[RequestClass, BucketLimit]:
    """The client-side buckets: ARM's (the catalog's, by default), scaled by the headroom."""
    arm = arm_limits() if limits is None else limits
    return {kind: BucketLimit(max(1.0, limit.capacity * headroom), limit.refill_per_s * headroom) for kind, limit in arm.items()}


@dataclass
class ThrottleStats:
    """What throttling did during a run: requests per class, 429s met, seconds spent waiting."""

    requests: dict[RequestClass, int] = field(default_factory=lambda: dict.fromkeys(RequestClass, 0))
    throttled: dict[RequestClass, int] = field(default_factory=lambda: dict.fromkeys(RequestClass, 0))
    waited_s: float = 0.0


class Throttle:
    """The buckets of one subscription, shared by every client of a drill (each gets its own policy).

    Buckets run on monotonic time: real seconds against Azure, world seconds (real seconds times the
    clock's speed) against the ARM emulator, whose buckets refill in world time. Retry-After is in
    real seconds: it is scaled by the speed onto the buckets' time line.
    """

    def __init__(self, limits: dict[RequestClass, BucketLimit] | None = None, *, enabled: bool = True, clock: Clock | None = None) -> None:
        self.limits = dict(client_limits() if limits is None else limits)
        self.enabled = enabled
        self.clock = clock
        self.stats = ThrottleStats()
        self._buckets: dict[RequestClass, TokenBucket] = {}
        self._queues: dict[RequestClass, asyncio.Lock] = {}

    async def acquire(self, kind: RequestClass) -> None:
        """Wait for a token of the class; waiters are served first come, first served."""
        queue = self._queues.setdefault(kind, asyncio.Lock())
        async with queue:
            bucket = self.bucket(kind)
            while (wait := bucket.take(self.time())) > 0:
                self.stats.waited_s += wait
                await self.sleep(wait)

    @property
    def speed(self) -> float:
        """World seconds per real second of the clock (1 for the wall clock)."""
        return float(getattr(self.clock, "speed", 1.0))

    def time(self) -> float:
        """Now on the buckets' time line (seconds)."""
        return asyncio.get_running_loop().time() * self.speed

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of the buckets' time."""
        if self.clock is None:
            await asyncio.sleep(seconds)
        else:
            await self.clock.sleep(seconds)

    def bucket(self, kind: RequestClass) -> TokenBucket:
        bucket = self._buckets.get(kind)
        if bucket is None:
            bucket = self._buckets[kind] = TokenBucket(self.limits[kind], self.time())
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
        kind = RequestClass.of(request.http_request.method)
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
                throttle.bucket(kind).pause(throttle.time(), seconds * throttle.speed)
        return response
