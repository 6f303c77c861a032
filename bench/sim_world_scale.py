"""Benchmark: a snapshot-clone of a 10,000-VM, 30,000-disk estate straight through the simulated world.

Every VM: snapshot its 3 disks in parallel, a disk from each snapshot, a VM on them in an isolated
network, a canary read. ARM throttling is on, so writes pace at 10/s per region after the first 200
(retries wait the retry-after on the virtual clock). Prints wall time, virtual time, operations and
the peak RSS (from the OS: tracemalloc would hook every allocation and time itself, not the world).

    python bench/sim_world_scale.py [--vms 10000] [--concurrency 500]
"""

from __future__ import annotations

import argparse
import collections
import random
import resource
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from drsim.cloud.api import RUN_TAG
from drsim.cloud.sim import IncidentSpec, SimProvider, build_world
from drsim.engine.clock import VirtualClock, run_virtual
from drsim.engine.runtime import current_runtime
from drsim.errors import ThrottledError
from drsim.model.documents import Estate, ProtectionPlan, SimOptions
from drsim.model.types import IncidentKind

T = TypeVar("T")
INCIDENT = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
REGIONS = ("eastus2", "westus2", "northeurope", "westeurope")


def estate(vms: int) -> Estate:
    return Estate.model_validate(
        {
            "apiVersion": "drsim/v1",
            "kind": "Estate",
            "metadata": {"name": "scale"},
            "regions": {"primary": REGIONS[0], "recovery": "centralus"},
            "networks": [{"name": f"net-{r}", "region": r, "cidr": f"10.{i}.0.0/16"} for i, r in enumerate(REGIONS)],
            "vms": [
                {
                    "name": f"vm-{n:05d}",
                    "os": "linux" if n % 3 else "windows",
                    "size": "Standard_D4s_v5",
                    "region": REGIONS[n % len(REGIONS)],
                    "network": f"net-{REGIONS[n % len(REGIONS)]}",
                    "tags": {"app": f"app-{n % 50}"},
                    "disks": [
                        {"name": "os", "size_gib": 128, "used_gib": 30},
                        {"name": "data1", "size_gib": 512, "used_gib": 200, "churn_gib_per_day": 10},
                        {"name": "data2", "size_gib": 512, "used_gib": 200, "churn_gib_per_day": 10},
                    ],
                    "volumes": [{"name": "data", "disks": ["data1", "data2"], "layout": "striped"}],
                }
                for n in range(vms)
            ],
        }
    )


PLAN = ProtectionPlan.model_validate(
    {
        "apiVersion": "drsim/v1",
        "kind": "ProtectionPlan",
        "metadata": {"name": "p"},
        "rules": [{"vms": {"app": "app-0"}, "backup": {"policy": "standard"}}],
    }
)


class Gate:
    """At most `slots` clones at a time, first come first served (asyncio.Semaphore's behaviour on the
    virtual kernel's futures)."""

    def __init__(self, slots: int) -> None:
        self.free = slots
        self.waiting: collections.deque[Any] = collections.deque()

    async def take(self) -> None:
        if self.free > 0:
            self.free -= 1
            return
        handed = current_runtime().future()
        self.waiting.append(handed)
        await handed

    def give_back(self) -> None:
        if self.waiting:
            self.waiting.popleft().set_result(None)
        else:
            self.free += 1


async def retrying(world: SimProvider, call: Callable[[], Awaitable[T]], counter: list[int], rng: random.Random) -> T:
    """Retry throttled calls like an ARM client: the retry-after, backing off with jitter as attempts grow."""
    attempt = 0
    while True:
        try:
            result = await call()
            counter[0] += 1
            return result
        except ThrottledError as throttled:
            counter[1] += 1
            attempt += 1
            await world.clock.sleep(max(throttled.retry_after, min(60.0, 2.0**attempt) * rng.uniform(0.5, 1.5)))


async def drill(world: SimProvider, concurrency: int) -> tuple[int, int, int, datetime]:
    tags = {RUN_TAG: "bench"}
    counter = [0, 0]
    rng = random.Random(1)
    retry = (counter, rng)
    networks = {}
    for region in REGIONS:
        networks[region] = await retrying(
            world,
            lambda region=region: world.create_isolated_network(name=f"bubble-{region}", region=region, cidr="10.250.0.0/16", tags=tags),
            counter,
            rng,
        )
    runtime = current_runtime()
    gate = Gate(concurrency)
    inconsistent = 0

    async def clone(vm) -> None:  # type: ignore[no-untyped-def]
        nonlocal inconsistent
        await gate.take()
        try:
            snaps = await runtime.gather(
                *(
                    retrying(world, lambda d=d, i=i: world.create_snapshot(d, name=f"{vm.name}-{i}-s", incremental=True, tags=tags), *retry)
                    for i, d in enumerate(vm.disk_ids)
                )
            )
            disks = await runtime.gather(
                *(
                    retrying(world, lambda s=s: world.create_disk(s.id, name=f"{s.name}-d", region=s.region, tags=tags), counter, rng)
                    for s in snaps
                )
            )
            created = await retrying(
                world,
                lambda: world.create_vm(
                    name=f"{vm.name}-clone",
                    region=vm.region,
                    size=vm.size,
                    os=vm.os,
                    disk_ids=[d.id for d in disks],
                    network_id=networks[vm.region].id,
                    tags=tags,
                ),
                counter,
                rng,
            )
            await world.clock.sleep(600)
            reading = await retrying(world, lambda: world.read_canary(created.id), counter, rng)
            inconsistent += not reading.consistent
        finally:
            gate.give_back()

    vms = await world.list_vms()
    await runtime.gather(*(clone(vm) for vm in vms))
    return counter[0], counter[1], inconsistent, world.now()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=500)
    args = parser.parse_args()
    started = time.perf_counter()
    doc = estate(args.vms)
    built = time.perf_counter()
    clock = VirtualClock(INCIDENT)
    world = build_world(
        doc,
        PLAN,
        incident=IncidentSpec(IncidentKind.REGION_OUTAGE, INCIDENT, region="nowhere"),
        seed=1,
        clock=clock,
        options=SimOptions(throttling=True),
    )
    ready = time.perf_counter()
    operations, throttled, inconsistent, ended = run_virtual(drill(world, args.concurrency))
    done = time.perf_counter()
    virtual = ended - INCIDENT
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"VMs {args.vms}, disks {3 * args.vms}, concurrency {args.concurrency}")
    print(f"estate validated in {built - started:.2f} s; world built in {ready - built:.2f} s")
    print(
        f"drill: {operations} operations ({throttled} throttled and retried) in {done - ready:.2f} s wall, "
        f"{virtual} virtual; {operations / (done - ready):.0f} ops/s"
    )
    print(f"striped volumes found inconsistent: {inconsistent} of {args.vms}")
    print(f"peak RSS {peak_rss_mib:.0f} MiB")


if __name__ == "__main__":
    main()
