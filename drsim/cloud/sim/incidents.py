"""The incident a simulated world suffers: what breaks, where, and from when.

The world is built with its incident and applies it from `at` on: before that instant everything is
healthy, so a world can also be inspected ahead of its incident.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from drsim.errors import UsageError
from drsim.model.documents import Estate, Scenario, VmSpec
from drsim.model.types import IncidentKind

DESTRUCTIVE = frozenset({IncidentKind.REGION_OUTAGE, IncidentKind.VM_LOSS, IncidentKind.ACCIDENTAL_DELETE, IncidentKind.DISK_FAILURE})
"""Incidents after which the affected VMs write nothing more (and no new capture of them is taken)."""
CORRUPTING = frozenset({IncidentKind.DATA_CORRUPTION, IncidentKind.RANSOMWARE})
"""Incidents after which the affected VMs keep running, writing corrupted data."""


@dataclass(frozen=True)
class IncidentSpec:
    """One incident: a region outage (`region`) or an incident of named VMs (`vms`)."""

    kind: IncidentKind
    at: datetime
    region: str | None = None
    vms: tuple[str, ...] = ()
    detected_after: timedelta = timedelta(0)
    disk: str | None = None  # disk-failure: the disk that fails (default: the first data disk)

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise UsageError(f"incident time {self.at.isoformat()} has no time zone; give it in UTC")
        if self.kind is IncidentKind.REGION_OUTAGE and (self.region is None or self.vms):
            raise UsageError("a region-outage incident names a region and no VMs")
        if self.kind is not IncidentKind.REGION_OUTAGE and (self.region is not None or not self.vms):
            raise UsageError(f"a {self.kind.value} incident names the VMs it strikes, not a region")

    @property
    def detected_at(self) -> datetime:
        """When the incident is noticed (data corruption and ransomware can go unnoticed for a while)."""
        return self.at + self.detected_after

    def strikes(self, vm: VmSpec) -> bool:
        """True when this incident affects the VM."""
        if self.kind is IncidentKind.REGION_OUTAGE:
            return vm.region == self.region
        return vm.name in self.vms

    def failed_disk(self, vm: VmSpec) -> str | None:
        """The disk a disk-failure breaks on this VM (None for other incidents or other VMs)."""
        if self.kind is not IncidentKind.DISK_FAILURE or vm.name not in self.vms:
            return None
        if self.disk is not None:
            return self.disk
        return vm.disks[1].name if len(vm.disks) > 1 else vm.disks[0].name


def incident_from_scenario(scenario: Scenario, estate: Estate, at: datetime, *, disk: str | None = None) -> IncidentSpec:
    """The incident a runbook's scenario describes, with its VM selector expanded over the estate."""
    vms: Sequence[str] = ()
    if scenario.vms is not None:
        vms = [vm.name for vm in estate.select(scenario.vms)]
        if not vms:
            raise UsageError(f"the scenario's VM selector matches no VM in estate {estate.name}")
    return IncidentSpec(
        kind=scenario.incident, at=at, region=scenario.region, vms=tuple(vms), detected_after=scenario.detected_after, disk=disk
    )
