"""drsim.cloud.arm: ARM ids (parsed, compared case-insensitively, their kind), request classes, ARM's
limits from the catalog, token buckets and the server-side throttle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drsim.cloud.api import ResourceKind
from drsim.cloud.arm import (
    ArmThrottle,
    BucketLimit,
    RequestClass,
    TokenBucket,
    arm_limits,
    kind_named,
    kind_of,
    operation_name,
    parse_id,
    resource_id,
    same_id,
    try_parse_id,
)
from drsim.cloud.sim import default_catalog
from drsim.errors import NotFoundError, ThrottledError

VM = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/prod/providers/Microsoft.Compute/virtualMachines/web-01"
T0 = datetime(2026, 1, 1, tzinfo=UTC)

# ---------------------------------------------------------------------------------------------- ids


def test_parse_id_reads_each_part():
    ref = parse_id(VM)
    assert (ref.subscription, ref.resource_group) == ("00000000-0000-0000-0000-000000000001", "prod")
    assert (ref.namespace, ref.name) == ("Microsoft.Compute", "web-01")
    assert ref.type == "Microsoft.Compute/virtualMachines"
    assert str(ref) == VM


def test_parse_id_of_a_nested_backup_item():
    rid = (
        "/subscriptions/s/resourceGroups/vaults/providers/Microsoft.RecoveryServices/vaults/bv/backupFabrics/Azure"
        "/protectionContainers/IaasVMContainer;iaasvmcontainerv2;prod;web-01/protectedItems/VM;iaasvmcontainerv2;prod;web-01"
        "/recoveryPoints/123"
    )
    ref = parse_id(rid)
    assert ref.child("vaults") == "bv"
    assert ref.child("protectionContainers") == "IaasVMContainer;iaasvmcontainerv2;prod;web-01"
    assert ref.name == "123"
    with pytest.raises(NotFoundError):
        ref.child("replicationFabrics")


@pytest.mark.parametrize(
    "bad", ["", "web-01", "/subscriptions/s/resourceGroups/rg", "/subscriptions/s/resourceGroups/rg/providers/Ns/type"]
)
def test_parse_id_refuses_what_is_not_an_id(bad):
    with pytest.raises(NotFoundError, match="not an ARM resource id"):
        parse_id(bad)


def test_ids_compare_case_insensitively():
    assert same_id(VM, VM.upper())
    assert not same_id(VM, None)
    vnet = resource_id("s", "rg", "Microsoft.Network", ("virtualNetworks", "v"))
    assert vnet == "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v"


def test_operation_name_from_a_poll_url():
    url = "http://127.0.0.1:1/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v/backupFabrics/Azure/protectionContainers/c/protectedItems/i/operationsStatus/abc-1?api-version=2025-02-01"
    assert operation_name(url, "operationsStatus") == "abc-1"
    assert operation_name(url, "replicationJobs") is None


def test_ids_parse_into_group_type_and_name() -> None:
    parsed = try_parse_id(VM.replace("00000000-0000-0000-0000-000000000001", "s1").replace("/prod/", "/rg/"))
    assert parsed is not None
    assert (parsed.subscription, parsed.resource_group, parsed.type, parsed.name) == (
        "s1",
        "rg",
        "Microsoft.Compute/virtualMachines",
        "web-01",
    )
    assert str(parsed) == VM.replace("00000000-0000-0000-0000-000000000001", "s1").replace("/prod/", "/rg/")
    nested = try_parse_id(f"{VM.replace('Compute/virtualMachines/web-01', 'Network/virtualNetworks/v')}/subnets/drill")
    assert nested is not None and nested.type == "Microsoft.Network/virtualNetworks/subnets" and nested.name == "drill"
    assert try_parse_id("/subscriptions/s1/resourceGroups/rg") is None
    assert try_parse_id("not an id") is None


def test_the_kind_of_an_id_is_read_case_insensitively() -> None:
    assert kind_of(VM) is ResourceKind.VM
    assert kind_of(VM.lower()) is ResourceKind.VM
    assert kind_of(f"{VM}/extensions/agent") is ResourceKind.VM
    assert kind_of("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Sql/servers/db") is None
    assert kind_of("web-01") is None
    assert kind_named("microsoft.compute/DISKS") is ResourceKind.DISK


# ---------------------------------------------------------------------------------- classes, limits


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def drain(bucket: TokenBucket, clock: FakeTime, count: int) -> list[float]:
    """Take `count` tokens one after the other, waiting as told; the instants they were granted at."""
    granted = []
    for _ in range(count):
        while (wait := bucket.take(clock.now)) > 0:
            clock.now += wait
        granted.append(clock.now)
    return granted


def test_request_classes_follow_the_http_method():
    assert RequestClass.of("get") is RequestClass.READ
    assert RequestClass.of("HEAD") is RequestClass.READ
    assert RequestClass.of("PUT") is RequestClass.WRITE
    assert RequestClass.of("POST") is RequestClass.WRITE
    assert RequestClass.of("PATCH") is RequestClass.WRITE
    assert RequestClass.of("DELETE") is RequestClass.DELETE


def test_arm_limits_are_the_catalogs() -> None:
    assert arm_limits() == default_catalog().arm.limits()
    assert arm_limits()[RequestClass.READ] == BucketLimit(250, 25)


# ----------------------------------------------------------------------------------- token buckets


def test_a_full_bucket_serves_its_capacity_at_once_then_one_token_per_refill_interval():
    clock = FakeTime()
    bucket = TokenBucket(BucketLimit(200, 10), clock.now)
    granted = drain(bucket, clock, 203)
    assert granted[:200] == [0.0] * 200
    assert granted[200:] == pytest.approx([0.1, 0.2, 0.3])


def test_tokens_refill_with_time_up_to_capacity():
    clock = FakeTime()
    bucket = TokenBucket(BucketLimit(2, 1), clock.now)
    assert drain(bucket, clock, 2) == [0.0, 0.0]
    clock.now = 100.0
    assert drain(bucket, clock, 3) == pytest.approx([100.0, 100.0, 101.0])


def test_retry_after_pauses_the_class_and_it_restarts_empty():
    clock = FakeTime()
    bucket = TokenBucket(BucketLimit(250, 25), clock.now)
    bucket.pause(clock.now, 5)
    assert bucket.take(clock.now) == 5.0
    clock.now = 2.0
    assert bucket.take(clock.now) == 3.0
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
    bucket = TokenBucket(BucketLimit(capacity, rate), clock.now)
    granted: list[float] = []
    arrival = 0.0
    for gap in gaps:
        arrival += gap
        clock.now = max(clock.now, arrival)
        granted += drain(bucket, clock, 1)
    for count, at in enumerate(granted, start=1):
        assert count <= capacity + rate * at + 1e-6


# --------------------------------------------------------------------------- the server's throttle


def test_arm_write_bucket_holds_200_and_refills_10_a_second() -> None:
    throttle = ArmThrottle(arm_limits())
    for _ in range(200):
        throttle.admit("eastus2", RequestClass.WRITE, T0)
    with pytest.raises(ThrottledError) as refused:
        throttle.admit("eastus2", RequestClass.WRITE, T0)
    assert refused.value.retry_after == pytest.approx(0.1)
    throttle.admit("eastus2", RequestClass.WRITE, T0 + timedelta(seconds=0.1))
    throttle.admit("centralus", RequestClass.WRITE, T0)  # another region, another bucket


def test_arm_read_bucket_holds_250_and_refills_25_a_second() -> None:
    throttle = ArmThrottle(arm_limits())
    for _ in range(250):
        throttle.admit("eastus2", RequestClass.READ, T0)
    with pytest.raises(ThrottledError) as refused:
        throttle.admit("eastus2", RequestClass.READ, T0)
    assert refused.value.retry_after == pytest.approx(0.04)
    for _ in range(25):
        throttle.admit("eastus2", RequestClass.READ, T0 + timedelta(seconds=1))


def test_arm_delete_bucket_holds_200_and_refills_10_a_second() -> None:
    throttle = ArmThrottle(arm_limits())
    for _ in range(200):
        throttle.admit("eastus2", RequestClass.DELETE, T0)
    with pytest.raises(ThrottledError):
        throttle.admit("eastus2", RequestClass.DELETE, T0)
    throttle.admit("eastus2", RequestClass.WRITE, T0)  # deletes and writes are separate buckets


def test_a_throttled_request_consumes_nothing() -> None:
    throttle = ArmThrottle(arm_limits())
    for _ in range(200):
        throttle.admit("eastus2", RequestClass.WRITE, T0)
    for _ in range(5):
        with pytest.raises(ThrottledError):
            throttle.admit("eastus2", RequestClass.WRITE, T0 + timedelta(seconds=0.05))
    throttle.admit("eastus2", RequestClass.WRITE, T0 + timedelta(seconds=0.1))


class WorldClock:
    def __init__(self) -> None:
        self.at = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


class Reads:
    """A server-side throttle of three reads refilling one a second, in one region, on a world clock."""

    def __init__(self, clock: WorldClock, *, enabled: bool = True) -> None:
        self.clock = clock
        self.throttle = ArmThrottle({RequestClass.READ: BucketLimit(capacity=3, refill_per_s=1.0)}, enabled=enabled)

    def admit(self, request: RequestClass, client: str | None = None) -> None:
        self.throttle.admit("eastus2", request, self.clock(), client)

    def remaining(self, request: RequestClass) -> float | None:
        return self.throttle.remaining("eastus2", request, self.clock())


def buckets(clock: WorldClock) -> Reads:
    return Reads(clock)


def test_a_bucket_lets_its_capacity_through_then_throttles_until_it_refills() -> None:
    clock = WorldClock()
    reads = buckets(clock)
    for _ in range(3):
        reads.admit(RequestClass.READ)
    with pytest.raises(ThrottledError) as refused:
        reads.admit(RequestClass.READ)
    assert refused.value.retry_after == pytest.approx(1.0)
    clock.advance(1.0)
    reads.admit(RequestClass.READ)
    assert reads.remaining(RequestClass.READ) == 0


def test_a_throttled_burst_is_given_successive_tokens_and_each_retry_gets_through() -> None:
    clock = WorldClock()
    reads = buckets(clock)
    waits = {}
    for n in range(8):
        try:
            reads.admit(RequestClass.READ, f"request-{n}")
        except ThrottledError as exc:
            waits[f"request-{n}"] = exc.retry_after
    assert list(waits.values()) == pytest.approx([1.0, 2.0, 3.0, 4.0, 5.0])  # one a second: the refill rate
    with pytest.raises(ThrottledError):
        reads.admit(RequestClass.READ, "request-4")  # too early: its token is not due yet
    clock.advance(5.0)
    for client in waits:
        reads.admit(RequestClass.READ, client)  # each comes back once and is let through
    with pytest.raises(ThrottledError):
        reads.admit(RequestClass.READ, "newcomer")  # the burst used every token up to now


def test_throttling_off_admits_everything() -> None:
    reads = Reads(WorldClock(), enabled=False)
    for _ in range(10):
        reads.admit(RequestClass.READ)
    assert reads.remaining(RequestClass.READ) is None
