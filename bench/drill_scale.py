"""Benchmark: a 10,000-VM (3 disks each) snapshot-clone drill through the full engine and simulated world.

Every VM: fresh snapshots of its 3 disks one by one, a disk from each, a VM on them in an isolated
network; then cleanup deletes all of it. ARM throttling is off ("when nothing throttles"), so the
makespan can be set against the critical-path lower bound computed from the operation durations the
run observed. Beside it, the same workload as a minimal SimPy model with the catalog's distributions:
one process per VM clone whose disk creations run beside its next snapshot, every operation holding
one of `concurrency` slots (FIFO), and each cleanup wave drained by `concurrency` processes, as the
engine drains it. And the same workload once more as bare tasks on drsim's virtual-time kernel,
without engine and world: what scheduling alone costs. Prints wall and CPU seconds of each (the
machine is shared: CPU time is the steadier figure), drsim's ratio to SimPy, then, in separate runs
under cProfile, the function calls per simulated operation of both; asserts nothing.

    python bench/drill_scale.py [--vms 10000] [--concurrency 50] [--journal [--fsync]] [--no-profile]
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import pstats
import random
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import simpy

from drsim.cloud.sim import default_catalog
from drsim.drills import simulate_run
from drsim.engine.clock import VirtualClock, VirtualKernel, collector_paused
from drsim.engine.journal import JournalWriter
from drsim.measure.events import ResourceCreated, ResourceDeleted
from drsim.model.documents import Estate, ProtectionPlan, Runbook, SimOptions

INCIDENT = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


def documents(vms: int) -> tuple[Estate, ProtectionPlan, Runbook]:
    disks = [
        {"name": "os", "size_gib": 128, "used_gib": 30},
        {"name": "data1", "size_gib": 512, "used_gib": 200, "churn_gib_per_day": 10},
        {"name": "data2", "size_gib": 512, "used_gib": 200, "churn_gib_per_day": 10},
    ]
    fleet = [
        {
            "name": f"vm-{n:05d}",
            "os": "linux",
            "size": "Standard_D4s_v5",
            "region": "eastus2",
            "network": "prod",
            "tags": {"app": "fleet"},
            "disks": disks,
        }
        for n in range(vms)
    ]
    # The incident strikes one VM outside the fleet: the fleet keeps running, so fresh snapshots work.
    victim = {
        "name": "lost-01",
        "os": "linux",
        "size": "Standard_D2s_v5",
        "region": "eastus2",
        "network": "prod",
        "tags": {"app": "other"},
        "disks": [{"name": "os", "size_gib": 64, "used_gib": 10}],
    }
    estate = Estate.model_validate(
        {
            "apiVersion": "drsim/v1",
            "kind": "Estate",
            "metadata": {"name": "scale"},
            "regions": {"primary": "eastus2", "recovery": "centralus"},
            "networks": [{"name": "prod", "region": "eastus2", "cidr": "10.0.0.0/8"}],
            "vms": [*fleet, victim],
            "apps": [{"name": "fleet", "vms": {"app": "fleet"}}],
        }
    )
    plan = ProtectionPlan.model_validate(
        {
            "apiVersion": "drsim/v1",
            "kind": "ProtectionPlan",
            "metadata": {"name": "scale-plan"},
            "rules": [{"vms": {"app": "fleet"}, "snapshots": {"every": "24h"}}],
        }
    )
    runbook = Runbook.model_validate(
        {
            "apiVersion": "drsim/v1",
            "kind": "Runbook",
            "metadata": {"name": "scale-clone"},
            "scenario": {"incident": "vm-loss", "vms": {"name": "lost-01"}},
            "steps": [
                {"id": "bubble", "action": "network.isolate", "with": {"region": "eastus2", "cidr": "172.16.0.0/12"}},
                {
                    "id": "clone",
                    "action": "snapshot.clone",
                    "needs": ["bubble"],
                    "with": {"vms": {"app": "fleet"}, "network": "bubble", "source": "fresh"},
                },
            ],
            "cleanup": "always",
        }
    )
    return estate, plan, runbook


def simpy_model(vms: int, concurrency: int, seed: int) -> tuple[float, float, int, float]:
    """The same workload in SimPy: returns (wall seconds, CPU seconds, operations, simulated makespan)."""
    catalog = default_catalog()
    rng = random.Random(seed)
    snapshot, disk, create_vm = catalog.snapshots.create, catalog.compute.disk_create, catalog.compute.vm_create_linux
    delete_vm, delete_other = catalog.compute.delete_vm, catalog.compute.delete_other
    env = simpy.Environment()
    # The concurrency limit as a Container of slot tokens: first come, first served like a Resource,
    # without the Resource's per-user bookkeeping (a list scan per release at a capacity of 10,000).
    slots = simpy.Container(env, capacity=concurrency, init=concurrency)
    operations = 0
    finished: list[float] = []

    def op(seconds: float):  # type: ignore[no-untyped-def]
        nonlocal operations
        yield slots.get(1)
        yield env.timeout(seconds)
        slots.put(1)  # there is always room to give a slot back: it takes effect at once
        operations += 1

    def clone():  # type: ignore[no-untyped-def]
        disks = []
        for _ in range(3):  # fresh snapshots, disk by disk; each disk is created as soon as its snapshot exists
            yield from op(snapshot.sample(rng.random()))
            disks.append(env.process(op(disk.sample(rng.random()))))
        yield env.all_of(disks)
        yield from op(create_vm.sample(rng.random()))
        finished.append(env.now)

    def wave(durations: list[float]):  # type: ignore[no-untyped-def]
        todo = iter(durations)

        def deleter():  # type: ignore[no-untyped-def]
            nonlocal operations
            for seconds in todo:
                yield env.timeout(seconds)
                operations += 1

        yield env.all_of([env.process(deleter()) for _ in range(min(concurrency, len(durations)))])

    def drill():  # type: ignore[no-untyped-def]
        yield env.all_of([env.process(clone()) for _ in range(vms)])
        yield from wave([delete_vm.sample(rng.random()) for _ in range(vms)])  # VMs first, then what they held
        yield from wave([delete_other.sample(rng.random()) for _ in range(6 * vms)])

    started, cpu = time.perf_counter(), time.process_time()
    env.process(drill())
    env.run()
    return time.perf_counter() - started, time.process_time() - cpu, operations, max(finished)


def kernel_model(vms: int, concurrency: int, seed: int) -> tuple[float, float, int]:
    """The same workload as bare tasks on drsim's virtual-time kernel, with no engine and no world:
    what scheduling alone costs the engine (wall seconds, CPU seconds, operations)."""
    catalog = default_catalog()
    rng = random.Random(seed)
    snapshot, disk, create_vm = catalog.snapshots.create, catalog.compute.disk_create, catalog.compute.vm_create_linux
    delete_vm, delete_other = catalog.compute.delete_vm, catalog.compute.delete_other
    operations = 0
    kernel = VirtualKernel()
    clock = VirtualClock(INCIDENT)
    free = concurrency
    waiting: collections.deque[Any] = collections.deque()

    async def op(seconds: float) -> None:
        nonlocal operations, free
        if free > 0:
            free -= 1
        else:
            handed = kernel.future()
            waiting.append(handed)
            await handed
        await clock.sleep(seconds)
        operations += 1
        if waiting:
            waiting.popleft().set_result(None)
        else:
            free += 1

    async def clone() -> None:
        disks = []
        for _ in range(3):
            await op(snapshot.sample(rng.random()))
            disks.append(kernel.spawn(op(disk.sample(rng.random()))))
        await kernel.gather(*disks)
        await op(create_vm.sample(rng.random()))

    async def wave(durations: list[float]) -> None:
        todo = iter(durations)

        async def deleter() -> None:
            nonlocal operations
            for seconds in todo:
                await clock.sleep(seconds)
                operations += 1

        await kernel.gather(*(deleter() for _ in range(min(concurrency, len(durations)))))

    async def drill() -> None:
        await kernel.gather(*(clone() for _ in range(vms)))
        await wave([delete_vm.sample(rng.random()) for _ in range(vms)])
        await wave([delete_other.sample(rng.random()) for _ in range(6 * vms)])

    started, cpu = time.perf_counter(), time.process_time()
    with collector_paused():
        kernel.run(drill())
    return time.perf_counter() - started, time.process_time() - cpu, operations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50, help="operations in flight (Drill.concurrency: default 50, at most 10000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--journal", action="store_true", help="also write journal.jsonl, as `drsim drill run` does")
    parser.add_argument("--fsync", action="store_true", help="with --journal: sync it to the disk as `drsim drill run` does")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile runs that count calls per operation")
    args = parser.parse_args()

    # The SimPy model first, in a process that holds nothing yet (the engine's run leaves a large heap
    # that Python's garbage collector would walk during the model's run).
    simpy_wall, simpy_cpu, simpy_ops, simpy_makespan = simpy_model(args.vms, args.concurrency, args.seed)
    floor_wall, floor_cpu, floor_ops = kernel_model(args.vms, args.concurrency, args.seed)
    estate, plan, runbook = documents(args.vms)
    journal_dir = Path(tempfile.mkdtemp(prefix="drill-scale-"))
    journal = JournalWriter(journal_dir / "journal.jsonl", fsync=args.fsync) if args.journal else None

    class ToJournal:
        def on_event(self, event):  # type: ignore[no-untyped-def]
            if journal is not None:
                journal.write(event)

        def on_finished(self, outcome):  # type: ignore[no-untyped-def]
            pass

    started, cpu = time.perf_counter(), time.process_time()
    outcome = simulate_run(
        runbook,
        estate,
        plan,
        incident_at=INCIDENT,
        seed=args.seed,
        concurrency=args.concurrency,
        sim_options=SimOptions(throttling=False),
        observers=(ToJournal(),) if journal else (),
    )
    if journal is not None:
        journal.close()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    # Every resource created or deleted is one long-running ARM operation (the few reads aside).
    operations = sum(1 for e in outcome.events if isinstance(e, ResourceCreated | ResourceDeleted))
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert outcome.result is not None and outcome.realized is not None and outcome.makespan_s is not None
    failed = sum(1 for t in outcome.result.tasks if t.status.value != "succeeded")

    print(f"drill: {args.vms} VMs x 3 disks, fresh snapshot clone + cleanup, concurrency {args.concurrency}, throttling off")
    print(f"  status {outcome.result.status.value}, cleanup {outcome.result.cleanup.status}, tasks not succeeded: {failed}")
    print(
        f"  events {len(outcome.events)}"
        + (f", journal {journal_dir / 'journal.jsonl'} ({journal.lines_written} lines, {journal.syncs} fsyncs)" if journal else "")
    )
    print(
        f"engine + simulated world: wall {wall:.2f} s (CPU {cpu:.2f} s), {operations} operations (creations and deletions), "
        f"{operations / wall:,.0f} simulated ops/s, peak RSS {rss_mib:.0f} MiB"
    )
    ratio = outcome.makespan_s / outcome.realized.lower_bound_s
    print(
        f"  makespan {outcome.makespan_s:,.1f} s (virtual), lower bound {outcome.realized.lower_bound_s:,.1f} s "
        f"(critical path {outcome.realized.length_s:,.1f} s, slot work / concurrency "
        f"{outcome.realized.slot_work_s / outcome.realized.concurrency:,.1f} s): ratio {ratio:.4f}"
    )
    print(
        f"minimal SimPy model of the same workload: wall {simpy_wall:.2f} s (CPU {simpy_cpu:.2f} s), {simpy_ops} operations, "
        f"{simpy_ops / simpy_wall:,.0f} ops/s, makespan {simpy_makespan:,.1f} s"
    )
    print(
        f"bare tasks on drsim's virtual-time kernel, same workload (no engine, no world): wall {floor_wall:.2f} s "
        f"(CPU {floor_cpu:.2f} s), {floor_ops} operations: {floor_wall / simpy_wall:.1f}x SimPy"
    )
    print(f"engine / SimPy: wall {wall / simpy_wall:.2f}x, CPU {cpu / simpy_cpu:.2f}x (target <= 2.0)")
    if args.no_profile:
        return
    # Function calls per simulated operation (cProfile counts every Python call, every resumption of a
    # coroutine or generator, and every call of a built-in): the whole simulate_run, world and result
    # included, over the operations it carried out; and the same for the SimPy model.
    profile = cProfile.Profile()
    profile.enable()
    simulate_run(
        runbook, estate, plan, incident_at=INCIDENT, seed=args.seed, concurrency=args.concurrency, sim_options=SimOptions(throttling=False)
    )
    profile.disable()
    drsim_calls = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
    profile = cProfile.Profile()
    profile.enable()
    simpy_model(args.vms, args.concurrency, args.seed)
    profile.disable()
    simpy_calls = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
    print(
        f"function calls per simulated operation (cProfile): drsim {drsim_calls / operations:.1f} (target <= 80), "
        f"SimPy {simpy_calls / simpy_ops:.1f}"
    )


if __name__ == "__main__":
    main()
