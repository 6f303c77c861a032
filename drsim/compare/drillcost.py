"""What one drill costs: every resource it created, priced per day, for as long as it was alive.

The engine reports each resource a drill creates and deletes as events (`ResourceCreated`,
`ResourceDeleted`); `DrillSpend` watches them during `simulate_drill`. Prices are the simulated
world's own (`cloud.sim.costs.cost_per_day`, catalog list prices), applied to what a recovered
resource copies: a recovered VM has its source VM's size, a recovered disk (or a snapshot of it)
its source disk's SKU, size and used size. A resource never deleted (a leftover, or cleanup: never)
is counted until the end of the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from drsim.cloud.api import ResourceKind
from drsim.cloud.sim.catalog import Catalog
from drsim.cloud.sim.costs import cost_per_day
from drsim.measure.events import Event, PlanMade, ResourceCreated, ResourceDeleted
from drsim.model.documents import DiskSpec, Estate, VmSpec

SECONDS_PER_DAY = 86400.0


@dataclass
class DrillSpend:
    """A run observer that keeps what a drill created and when each resource was deleted."""

    task_vm: dict[str, str | None] = field(default_factory=dict)  # task id -> the production VM it recovers
    created: list[ResourceCreated] = field(default_factory=list)
    deleted_at: dict[str, datetime] = field(default_factory=dict)
    last_at: datetime | None = None

    def on_event(self, event: Event) -> None:
        self.last_at = event.at if self.last_at is None else max(self.last_at, event.at)
        if isinstance(event, ResourceCreated):
            self.created.append(event)
        elif isinstance(event, ResourceDeleted):
            self.deleted_at.setdefault(event.id, event.at)
        elif isinstance(event, PlanMade):
            self.task_vm.update((task.id, task.vm) for task in event.tasks)

    def on_finished(self, outcome: object) -> None:
        """Part of the RunObserver protocol; simulate_drill has no outcome to give."""

    def priced(self, estate: Estate, catalog: Catalog) -> list[PricedResource]:
        """Every created resource with its price per day and the seconds it was alive."""
        vms = {vm.name: vm for vm in estate.vms}
        found = []
        for resource in self.created:
            vm_name = self.task_vm.get(resource.task) if resource.task else None
            source = vms.get(vm_name) if vm_name else None
            end = self.deleted_at.get(resource.id, self.last_at or resource.at)
            alive_s = max(0.0, (end - resource.at).total_seconds())
            price = price_per_day(resource, source, catalog)
            found.append(PricedResource(resource.id, resource.resource_kind, resource.name, price, alive_s))
        return found

    def total(self, estate: Estate, catalog: Catalog) -> float:
        """The drill's cost in USD."""
        return sum(r.cost for r in self.priced(estate, catalog))


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
        return cost_per_day(catalog, kind, size=source.size if source else "")
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
    return cost_per_day(catalog, kind, sku=disk.sku, size_gib=disk.size_gib, used_gib=disk.used_gib)
