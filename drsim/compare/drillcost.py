"""What one drill costs: every resource it created, priced per day, for as long as it was alive.

The engine reports each resource a drill creates and deletes as events (`ResourceCreated`,
`ResourceDeleted`, in `simulate_run`'s outcome). Prices are the simulated
world's own (`cloud.prices.cost_per_day`, catalog list prices), applied to what a recovered
resource copies: a recovered VM has its source VM's size, a recovered disk (or a snapshot of it)
its source disk's SKU, size and used size. A resource never deleted (a leftover, or cleanup: never)
is counted until the end of the run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from drsim.cloud.api import ResourceKind
from drsim.cloud.prices import cost_per_day
from drsim.cloud.sim.catalog import Catalog
from drsim.measure.events import Event, PlanMade, ResourceCreated, ResourceDeleted
from drsim.model.documents import DiskSpec, Estate, ImageDeployStep, Runbook, VmSpec

SECONDS_PER_DAY = 86400.0


def priced_resources(events: Iterable[Event], estate: Estate, catalog: Catalog, runbook: Runbook | None = None) -> list[PricedResource]:
    """Every resource a run created, with its price per day and the seconds it was alive. With the run's
    `runbook`, the disks an `image.deploy` step makes are priced as its image's (the golden VM's disks,
    which the image holds), not as the disks of the VM it replaces."""
    image_of = {s.id: s.with_.image_of for s in runbook.steps if isinstance(s, ImageDeployStep)} if runbook is not None else {}
    task_vm: dict[str, str | None] = {}  # task id -> the production VM it recovers
    task_image: dict[str, str] = {}  # task id -> the VM whose image it deploys
    created: list[ResourceCreated] = []
    deleted_at: dict[str, datetime] = {}
    last_at: datetime | None = None
    for event in events:
        last_at = event.at if last_at is None else max(last_at, event.at)
        if isinstance(event, ResourceCreated):
            created.append(event)
        elif isinstance(event, ResourceDeleted):
            deleted_at.setdefault(event.id, event.at)
        elif isinstance(event, PlanMade):
            task_vm.update((task.id, task.vm) for task in event.tasks)
            task_image.update((task.id, image_of[task.step]) for task in event.tasks if task.step in image_of)
    vms = {vm.name: vm for vm in estate.vms}
    found = []
    for resource in created:
        vm_name = task_vm.get(resource.task) if resource.task else None
        source = vms.get(vm_name) if vm_name else None
        golden = vms.get(task_image.get(resource.task or "", ""))
        if golden is not None and ResourceKind(resource.resource_kind) is not ResourceKind.VM:
            source = golden  # a disk deployed from an image copies the image's disk (the VM keeps its own size)
        end = deleted_at.get(resource.id, last_at or resource.at)
        alive_s = max(0.0, (end - resource.at).total_seconds())
        found.append(PricedResource(resource.id, resource.resource_kind, resource.name, price_per_day(resource, source, catalog), alive_s))
    return found


def drill_cost(events: Iterable[Event], estate: Estate, catalog: Catalog, runbook: Runbook | None = None) -> float:
    """The drill's cost in USD: each resource's price per day times the days it was alive."""
    return sum(r.cost for r in priced_resources(events, estate, catalog, runbook))


@dataclass(frozen=True)
class PricedResource:
    id: str
    kind: str
    name: str
    cost_per_day: float
    alive_s: float

    @property
    def cost(self) -> float:
        return self.cost_per_day * self.alive_s / SECONDS_PER_DAY


def source_disk(resource_name: str, vm: VmSpec) -> DiskSpec | None:
    """The disk of `vm` a recovered disk or snapshot copies, from its name (`<run>-<vm>-<step>-<disk>`, `<vm>-<disk>-test`).

    The VM's own name is taken out first; of the disk names left as whole '-'-separated words, the
    longest wins (so `data` does not match `data1`).
    """
    rest = "-" + resource_name.replace(vm.name, " ") + "-"
    matches = [d for d in vm.disks if f"-{d.name}-" in rest]
    return max(matches, key=lambda d: len(d.name)) if matches else None


def price_per_day(resource: ResourceCreated, source: VmSpec | None, catalog: Catalog) -> float:
    """The list price per day of one created resource (networks and NSGs are free)."""
    kind = ResourceKind(resource.resource_kind)
    if kind is ResourceKind.VM:
        return cost_per_day(catalog.prices, kind, size=source.size if source else "")
    if kind in (ResourceKind.DISK, ResourceKind.SNAPSHOT, ResourceKind.IMAGE):
        disks = [source_disk(resource.name, source)] if source else []
        if kind is ResourceKind.IMAGE and source is not None:
            disks = list(source.disks)  # an image holds every disk of its VM
        if not disks or disks[0] is None:
            # A disk we cannot tie to a source disk: the mean of its VM's disks (or nothing to go on).
            candidates = list(source.disks) if source else []
            if not candidates:
                return 0.0
            return sum(_disk_price(kind, d, catalog) for d in candidates) / len(candidates)
        return sum(_disk_price(kind, d, catalog) for d in disks if d is not None)
    return 0.0


def _disk_price(kind: ResourceKind, disk: DiskSpec, catalog: Catalog) -> float:
    return cost_per_day(catalog.prices, kind, sku=disk.sku, size_gib=disk.size_gib, used_gib=disk.used_gib)
