"""ARM's request limits at the emulator's front door: a token bucket per request class, in world time.

ARM throttles each subscription with token buckets (reads 250 refilling 25/s, writes and deletes 200
at 10/s; request-limits-and-throttling); the sizes come from the world's catalog. An empty bucket
answers 429 with Retry-After. So that a burst does not collide again on the next token, a throttled
request that names itself (azure-core sends the same `x-ms-client-request-id` on every retry) is
given the next token not yet given, on credit: it is told to come back when that token is due and
is let through when it does, so a burst drains at the refill rate and each request is refused once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from drsim.cloud.emulator.arm import RequestClass
from drsim.errors import ThrottledError

_FORGET_AFTER_S = 3600.0  # a promise nobody came back for is dropped after an hour of world time


@dataclass(frozen=True)
class BucketLimit:
    capacity: float
    refill_per_s: float


class RequestBuckets:
    """One token bucket per request class; `admit` takes a token or raises ThrottledError."""

    def __init__(self, limits: Mapping[RequestClass, BucketLimit], now: Callable[[], datetime], *, enabled: bool = True) -> None:
        self.limits = dict(limits)
        self.enabled = enabled
        self._now = now
        self._tokens: dict[RequestClass, float] = {}
        self._stamp: dict[RequestClass, float] = {}
        self._promised: dict[str, float] = {}  # client request id -> world time its token is due

    def _refill(self, request: RequestClass, at: float) -> float:
        limit = self.limits[request]
        tokens = self._tokens.get(request, limit.capacity)
        stamp = self._stamp.get(request, at)
        tokens = min(limit.capacity, tokens + max(0.0, at - stamp) * limit.refill_per_s)
        self._tokens[request], self._stamp[request] = tokens, max(stamp, at)
        return tokens

    def admit(self, request: RequestClass, client_id: str | None = None) -> None:
        """Let one request through, or raise ThrottledError with the world seconds to wait."""
        if not self.enabled:
            return
        at = self._now().timestamp()
        if client_id is not None and client_id in self._promised:
            due = self._promised[client_id]
            if at >= due:
                del self._promised[client_id]  # its token was taken when it was refused
                return
            raise ThrottledError(f"ARM throttled this {request.value} request: its turn comes in {due - at:.1f} s of world time", due - at)
        tokens = self._refill(request, at)
        if tokens >= 1.0:
            self._tokens[request] = tokens - 1.0
            return
        refill = self.limits[request].refill_per_s
        if client_id is None:
            wait = (1.0 - tokens) / refill
        else:
            self._tokens[request] = tokens - 1.0  # the next free token, on credit
            wait = -self._tokens[request] / refill
            self._promised[client_id] = at + wait
            self._forget(at)
        raise ThrottledError(f"ARM throttled this {request.value} request: retry after {wait:.1f} s of world time", wait)

    def _forget(self, at: float) -> None:
        stale = [c for c, due in self._promised.items() if due < at - _FORGET_AFTER_S]
        for client in stale:
            del self._promised[client]

    def remaining(self, request: RequestClass) -> float | None:
        """Tokens left in the bucket (None when throttling is off), as `x-ms-ratelimit-remaining-*` says."""
        if not self.enabled:
            return None
        return max(0.0, self._refill(request, self._now().timestamp()))
