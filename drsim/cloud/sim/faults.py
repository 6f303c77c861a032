"""Faults of the simulated world: ARM throttling, seeded transient failures, and slower responses.

ARM throttles per subscription and region with token buckets: reads 250 refilling 25/s, writes 200
at 10/s, deletes 200 at 10/s (azure-sdk-notes.md, request-limits-and-throttling, H). A throttled
request is refused with a retry-after and consumes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from drsim.cloud.sim.catalog import ArmLimits, Bucket
from drsim.cloud.sim.draws import Draws
from drsim.errors import ThrottledError, TransientError


class RequestClass(StrEnum):
    """The ARM bucket a request draws from."""

    READ = "read"
    WRITE = "write"
    DELETE = "delete"


@dataclass(slots=True)
class TokenBucket:
    """`capacity` tokens, refilled continuously at `refill_per_s`; one token per request."""

    capacity: float
    refill_per_s: float
    tokens: float
    updated: datetime

    def take(self, now: datetime) -> float:
        """Take one token; return 0.0, or the seconds until one is available (nothing taken)."""
        elapsed = (now - self.updated).total_seconds()
        if elapsed > 0:
            self.tokens = min(self.capacity, self.tokens + elapsed * self.refill_per_s)
            self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.refill_per_s


class Throttle:
    """ARM request limits per subscription and region (one subscription in the simulated world)."""

    def __init__(self, limits: ArmLimits, *, enabled: bool = True) -> None:
        self._limits: dict[RequestClass, Bucket] = {
            RequestClass.READ: limits.read_bucket,
            RequestClass.WRITE: limits.write_bucket,
            RequestClass.DELETE: limits.delete_bucket,
        }
        self.enabled = enabled
        self._buckets: dict[tuple[str, RequestClass], TokenBucket] = {}

    def admit(self, region: str, request: RequestClass, now: datetime) -> None:
        """Let one request through, or raise ThrottledError with the seconds to wait."""
        if not self.enabled:
            return
        bucket = self._buckets.get((region, request))
        if bucket is None:
            limit = self._limits[request]
            bucket = TokenBucket(limit.capacity, limit.refill_per_s, float(limit.capacity), now)
            self._buckets[(region, request)] = bucket
        wait = bucket.take(now)
        if wait > 0:
            raise ThrottledError(f"ARM throttled a {request.value} request in {region}: retry after {wait:.1f}s", retry_after=wait)

    def tokens(self, region: str, request: RequestClass) -> float | None:
        """Tokens left in a bucket as last updated (None before its first request)."""
        bucket = self._buckets.get((region, request))
        return None if bucket is None else bucket.tokens


class FailureInjector:
    """A seeded probability that any one request fails with a retryable error."""

    def __init__(self, rate: float, draws: Draws) -> None:
        self.rate = rate
        self._draws = draws
        self._attempts: dict[tuple[str, str], int] = {}

    def check(self, operation: str, target: str) -> None:
        """Raise TransientError for this attempt when the seeded draw says so."""
        if self.rate <= 0:
            return
        attempt = self._attempts.get((operation, target), 0)
        self._attempts[(operation, target)] = attempt + 1
        if self._draws.chance(self.rate, "fault", operation, target, attempt):
            raise TransientError(f"{operation} on {target} failed transiently (injected, attempt {attempt + 1}); retry")
