"""Azure Resource Manager as every provider meets it: resource ids, request classes and ARM's request limits.

Shared by the simulated world, the ARM emulator and the Azure provider (none of which imports another):
- ids: `/subscriptions/<sub>/resourceGroups/<rg>/providers/<ns>/<type>/<name>[/<type>/<name>...]`,
  parsed, composed and compared case-insensitively, as ARM compares them (Azure Resource Manager
  naming rules), so that an id read back from one API (Backup's `virtualMachineId`, Site Recovery's
  `fabricObjectId`) matches the one Compute returns; the kind of resource an id names.
- throttling: ARM throttles each subscription and region with a token bucket per request class:
  reads 250 refilling 25/s, writes 200 at 10/s, deletes 200 at 10/s (azure-resource-manager/management/
  request-limits-and-throttling, azure-sdk-notes.md). The figures are the catalog's `arm` section
  (drsim/cloud/sim/catalog.yaml, with their sources). `ArmThrottle` is the server's side (the simulated
  world and the emulator refuse a request with ThrottledError); the Azure provider's client-side
  throttle (cloud/azure/throttle.py) waits on the same `TokenBucket`s instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field

from drsim.cloud.api import ResourceKind
from drsim.cloud.figures import Figure, packaged_section
from drsim.errors import NotFoundError, ThrottledError

# ---------------------------------------------------------------------------------------------- ids


@dataclass(frozen=True, slots=True)
class ResourceId:
    """The parts of an ARM resource id: subscription, resource group, namespace and typed names."""

    subscription: str
    resource_group: str
    namespace: str
    # (type, name) pairs from the namespace on: (("virtualMachines", "web-01"),) or nested children
    path: tuple[tuple[str, str], ...]

    @property
    def name(self) -> str:
        """The last name in the id (the resource itself)."""
        return self.path[-1][1]

    @property
    def type(self) -> str:
        """`Microsoft.Compute/virtualMachines`, or `ns/parent/child` for nested resources."""
        return "/".join([self.namespace, *(kind for kind, _ in self.path)])

    def child(self, kind: str) -> str:
        """The name under a given type segment, e.g. `child("vaults")` of a backup recovery point id."""
        for segment, value in self.path:
            if segment.lower() == kind.lower():
                return value
        raise NotFoundError(f"resource id of type {self.type} has no {kind!r} segment")

    def __str__(self) -> str:
        names = "".join(f"/{kind}/{name}" for kind, name in self.path)
        return f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/{self.namespace}{names}"


_ID = re.compile(r"^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/([^/]+)((?:/[^/]+/[^/]+)+)$", re.IGNORECASE)


def try_parse_id(resource_id: str) -> ResourceId | None:
    """Split an ARM resource id (a trailing slash allowed); None when it is not one."""
    match = _ID.match(resource_id.rstrip("/"))
    if match is None:
        return None
    parts = match.group(4).strip("/").split("/")
    return ResourceId(match.group(1), match.group(2), match.group(3), tuple(zip(parts[0::2], parts[1::2], strict=True)))


def parse_id(resource_id: str) -> ResourceId:
    """Split an ARM resource id; NotFoundError when it is not one (a provider gets ids only from ARM)."""
    parsed = try_parse_id(resource_id)
    if parsed is None:
        raise NotFoundError(f"{resource_id!r} is not an ARM resource id (/subscriptions/<sub>/resourceGroups/<rg>/providers/...)")
    return parsed


def resource_id(subscription: str, resource_group: str, namespace: str, *path: tuple[str, str]) -> str:
    """Compose an ARM resource id."""
    return str(ResourceId(subscription, resource_group, namespace, tuple(path)))


def resource_group_id(subscription: str, resource_group: str) -> str:
    """The id of a resource group (which has no provider namespace)."""
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}"


def type_of(resource_id: str) -> str:
    """The resource type of an ARM id in lower case (`microsoft.compute/disks`), or "" for a malformed id."""
    parsed = try_parse_id(resource_id)
    return parsed.type.lower() if parsed is not None else ""


def name_of(resource_id: str) -> str:
    """The last name in an id (the resource's own name)."""
    return resource_id.rstrip("/").rsplit("/", 1)[-1]


def id_key(resource_id: str) -> str:
    """The form under which ids compare: ARM ids are case-insensitive."""
    return resource_id.rstrip("/").lower()


def same_id(left: str | None, right: str | None) -> bool:
    """Whether two ids name the same resource (ARM ids are case-insensitive)."""
    return left is not None and right is not None and id_key(left) == id_key(right)


_KINDS = {kind.value.lower(): kind for kind in ResourceKind}


def kind_named(type_name: str) -> ResourceKind | None:
    """The kind of resource a type name (`Microsoft.Compute/disks`, in any case) is, if drsim knows it."""
    return _KINDS.get(type_name.lower())


def kind_of(resource_id: str) -> ResourceKind | None:
    """The kind of resource an ARM id names (`.../providers/Microsoft.Compute/disks/x`), if drsim knows it."""
    _, sep, rest = resource_id.partition("/providers/")
    parts = rest.split("/", 3)
    if not sep or len(parts) < 3:
        return None
    return _KINDS.get(f"{parts[0]}/{parts[1]}".lower())


def operation_name(url: str, segment: str) -> str | None:
    """The name after `segment` in a polling URL (`.../operationsStatus/<id>?api-version=...`)."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    for index, part in enumerate(parts[:-1]):
        if part.lower() == segment.lower():
            return parts[index + 1]
    return None


# --------------------------------------------------------------------------------- request classes


class RequestClass(StrEnum):
    """ARM's throttling classes: reads, writes and deletes draw on separate buckets."""

    READ = "read"
    WRITE = "write"
    DELETE = "delete"

    @classmethod
    def of(cls, method: str) -> RequestClass:
        """The class of an HTTP method: GET, HEAD and OPTIONS read, DELETE deletes, the rest write."""
        method = method.upper()
        if method in ("GET", "HEAD", "OPTIONS"):
            return cls.READ
        if method == "DELETE":
            return cls.DELETE
        return cls.WRITE


# ------------------------------------------------------------------------------------------ limits


@dataclass(frozen=True, slots=True)
class BucketLimit:
    """A token bucket's size: `capacity` requests, refilled at `refill_per_s`."""

    capacity: float
    refill_per_s: float

    def __post_init__(self) -> None:
        if self.capacity < 1 or self.refill_per_s <= 0:
            raise ValueError(f"a token bucket needs capacity >= 1 and a positive refill rate, got {self}")


class Bucket(Figure):
    """A catalog entry: an ARM token bucket, `capacity` requests refilled at `refill_per_s`."""

    capacity: int = Field(gt=0)
    refill_per_s: float = Field(gt=0)

    @property
    def limit(self) -> BucketLimit:
        return BucketLimit(float(self.capacity), self.refill_per_s)


def bucket_limits(section: Mapping[str, Any]) -> dict[RequestClass, BucketLimit]:
    """The buckets of a catalog `arm` section (`read_bucket`, `write_bucket`, `delete_bucket`)."""
    return {request: Bucket.model_validate(section[f"{request.value}_bucket"]).limit for request in RequestClass}


@cache
def arm_limits() -> dict[RequestClass, BucketLimit]:
    """ARM's buckets as the packaged catalog gives them (no calibration)."""
    return bucket_limits(packaged_section("arm"))


# ----------------------------------------------------------------------------------- token buckets

_EPSILON = 1e-6


class TokenBucket:
    """`capacity` tokens, refilled continuously at `refill_per_s`; one token per request.

    Time is in seconds on the caller's line (world or monotonic time); a clock that goes back counts
    as no time passed. A token short by a rounding error counts as whole: a wait of a few ulps would
    never pass. `pause()` is ARM's Retry-After: nothing before then, and the bucket restarts empty,
    so the requests that waited resume at the refill rate instead of all at once.
    """

    __slots__ = ("limit", "paused_until", "stamp", "tokens")

    def __init__(self, limit: BucketLimit, now: float) -> None:
        self.limit = limit
        self.tokens = limit.capacity
        self.stamp = now
        self.paused_until = -math.inf

    def refill(self, now: float) -> float:
        """The tokens in the bucket at `now` (negative while tokens given on credit are not yet due)."""
        if now > self.stamp:
            self.tokens = min(self.limit.capacity, self.tokens + (now - self.stamp) * self.limit.refill_per_s)
        self.stamp = now
        return self.tokens

    def take(self, now: float) -> float:
        """0.0 when a token was taken; else the seconds until one may be (nothing is taken)."""
        if now < self.paused_until:
            return self.paused_until - now
        if now > self.stamp:  # refill, inline: the simulated world takes a token per request
            self.tokens = min(self.limit.capacity, self.tokens + (now - self.stamp) * self.limit.refill_per_s)
        self.stamp = now
        tokens = self.tokens
        if tokens >= 1 - _EPSILON:
            self.tokens = max(0.0, tokens - 1)
            return 0.0
        return (1 - tokens) / self.limit.refill_per_s

    def take_on_credit(self, now: float) -> float:
        """Take a token now, or the next one not yet given: 0.0, or the seconds until that token is due."""
        wait = self.take(now)
        if wait == 0.0:
            return 0.0
        self.tokens -= 1.0
        return -self.tokens / self.limit.refill_per_s

    def pause(self, now: float, seconds: float) -> None:
        """The server said Retry-After: no token before then, and none saved up from before."""
        self.paused_until = max(self.paused_until, now + seconds)
        self.tokens = 0.0
        self.stamp = self.paused_until


_FORGET_AFTER_S = 3600.0  # a promised token nobody came back for is dropped after an hour


class ArmThrottle:
    """ARM's request limits as ARM applies them: a bucket per region and request class; `admit` lets a
    request through or raises ThrottledError with the seconds to wait.

    A refused request consumes nothing. A request that names itself (azure-core sends the same
    `x-ms-client-request-id` on every retry: the emulator passes it) is instead given the next token
    not yet given, on credit: it is told to come back when that token is due and let through when it
    does, so a burst drains at the refill rate and each request is refused once.
    """

    def __init__(self, limits: Mapping[RequestClass, BucketLimit], *, enabled: bool = True) -> None:
        self.limits = dict(limits)
        self.enabled = enabled
        self._buckets: dict[tuple[str, RequestClass], TokenBucket] = {}
        self._origin: datetime | None = None
        self._promised: dict[str, float] = {}  # client request id -> when its token is due

    def admit(self, region: str, request: RequestClass, now: datetime, client: str | None = None) -> None:
        """Let one request through, or raise ThrottledError with the seconds to wait."""
        if not self.enabled:
            return
        origin = self._origin
        if origin is None:
            origin = self._origin = now
        at = (now - origin).total_seconds()  # seconds since the first request: small numbers keep float time exact enough
        bucket = self._buckets.get((region, request))
        if bucket is None:
            bucket = self._buckets[(region, request)] = TokenBucket(self.limits[request], at)
        if client is None:
            wait = bucket.take(at)
        else:
            due = self._promised.get(client)
            if due is not None:
                if at >= due:
                    del self._promised[client]  # its token was taken when it was refused
                    return
                raise ThrottledError(f"ARM throttled a {request.value} request in {region}: its turn comes in {due - at:.1f}s", due - at)
            wait = bucket.take_on_credit(at)
            if wait > 0:
                self._promised[client] = at + wait
                self._forget(at)
        if wait > 0:
            raise ThrottledError(f"ARM throttled a {request.value} request in {region}: retry after {wait:.1f}s", retry_after=wait)

    def _forget(self, at: float) -> None:
        stale = [client for client, due in self._promised.items() if due < at - _FORGET_AFTER_S]
        for client in stale:
            del self._promised[client]

    def tokens(self, region: str, request: RequestClass) -> float | None:
        """Tokens left in a bucket as last updated (None before its first request)."""
        bucket = self._buckets.get((region, request))
        return None if bucket is None else bucket.tokens

    def remaining(self, region: str, request: RequestClass, now: datetime) -> float | None:
        """Tokens left in a bucket now (None when throttling is off), as `x-ms-ratelimit-remaining-*` says."""
        if not self.enabled:
            return None
        bucket = self._buckets.get((region, request))
        if bucket is None or self._origin is None:
            return self.limits[request].capacity
        return max(0.0, bucket.refill((now - self._origin).total_seconds()))


# ------------------------------------------------------------------------------------------ VM sizes

_VCPUS = re.compile(r"^(?:Standard|Basic)_[A-Za-z]+?(\d+)", re.IGNORECASE)


def vcpus_of(size: str) -> int:
    """vCPUs of a VM size, read from its name: `Standard_<family><vCPUs><features>[_v<version>]`
    (virtual-machines/vm-naming-conventions: Standard_D4s_v5 has 4); 1 when the name says none. What
    regional vCPU quota (the `cores` usage) a VM of that size takes."""
    match = _VCPUS.match(size)
    return int(match.group(1)) if match else 1
