"""The data-version model (DESIGN.md): canary markers written continuously, captured per disk.

Every production VM runs a workload that writes a canary marker (sequence number and timestamp)
every `interval` seconds to each of its disks while it runs. A disk's content at t is all writes up
to t, less what the application still buffers (`flush_lag`) unless the capture was
application-consistent (VSS / pre-post scripts flush first). A capture records, per disk, the newest
write it holds; a striped volume is consistent only when all its disks hold the same instant, which
is the case for one-instant captures (Azure Backup, Site Recovery) and for a VM that had stopped
writing, and not for per-disk snapshots of a running VM.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from drsim.cloud.api import CanaryReading, VolumeReading
from drsim.model.documents import VmSpec
from drsim.model.types import VolumeLayout
from drsim.records import quick_init

CANARY_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
"""Sequence number 0 of every workload (markers are aligned to it)."""


@dataclass(frozen=True, slots=True)
class DiskContent:
    """What one disk holds: the canary writes of one production disk up to `instant`."""

    vm: str  # the production VM whose workload wrote it
    disk: str  # the production disk name
    instant: datetime  # the newest write it holds
    corrupted: bool  # holds writes made after the incident's corruption began


@dataclass(frozen=True, slots=True)
class Workload:
    """The canary writer of one production VM."""

    vm: str
    interval: float  # seconds between markers
    flush_lag: float  # seconds of writes still buffered by the application at a crash-consistent capture
    writes_until: datetime | None = None  # the VM stopped writing then (stopped, lost); None: still writing
    clean_stop: bool = True  # stopped by a shutdown (buffers flushed) rather than a crash (buffers lost)
    corrupt_from: datetime | None = None  # data corruption / ransomware began then

    def written_by(self, at: datetime) -> datetime:
        """The newest write made by `at` (on disk or in the application's buffers)."""
        return at if self.writes_until is None else min(at, self.writes_until)

    def capture(self, disk: str, at: datetime, *, flushed: bool) -> DiskContent:
        """The content of one disk captured at `at`; `flushed` for application-consistent captures.

        After the VM stopped writing, every capture holds the same data: all of it after a shutdown,
        all but the application's buffers after a crash (so a stopped VM's disks are consistent).
        """
        lag = timedelta(seconds=self.flush_lag)
        if self.writes_until is not None and at >= self.writes_until:
            instant = self.writes_until if self.clean_stop else self.writes_until - lag
        else:
            instant = at if flushed else at - lag
        # Every capture taken at or after the corruption began holds corrupted data (DESIGN.md).
        corrupted = self.corrupt_from is not None and at >= self.corrupt_from
        return DiskContent(self.vm, disk, instant, corrupted)

    def marker(self, instant: datetime) -> tuple[int, datetime]:
        """The newest canary marker (sequence, timestamp) written at or before `instant`."""
        return marker_at(instant, self.interval)


quick_init(DiskContent)
quick_init(Workload)


def marker_at(instant: datetime, interval: float) -> tuple[int, datetime]:
    """The newest marker at or before `instant` for a workload writing every `interval` seconds."""
    sequence = math.floor((instant - CANARY_EPOCH).total_seconds() / interval + 1e-9)
    return sequence, CANARY_EPOCH + timedelta(seconds=sequence * interval)


def read_canary(vm_id: str, contents: Sequence[DiskContent], origin: VmSpec | None, interval: float) -> CanaryReading:
    """What the canary check reads on a VM holding these disk contents (OS disk first).

    The newest marker on any disk is the data the recovery brought back; each volume of the origin
    VM is consistent when all its disks hold the same instant.
    """
    if not contents:
        return CanaryReading(vm_id=vm_id, reachable=True, last_marker_at=None, last_sequence=None, corrupted=False)
    newest = max(contents, key=lambda c: c.instant)
    sequence, marker_time = marker_at(newest.instant, interval)
    by_disk = {c.disk: c for c in contents if origin is not None and c.vm == origin.name}
    volumes = []
    for volume in origin.volumes if origin is not None else ():
        held = [by_disk.get(name) for name in volume.disks]
        instants = tuple(marker_at(c.instant, interval)[1] if c is not None else None for c in held)
        present = [c.instant for c in held if c is not None]
        whole = len(present) == len(held)
        consistent = whole and (volume.layout is VolumeLayout.SINGLE or len(set(present)) == 1)
        volumes.append(VolumeReading(name=volume.name, disk_instants=instants, consistent=consistent))
    return CanaryReading(
        vm_id=vm_id,
        reachable=True,
        last_marker_at=marker_time,
        last_sequence=sequence,
        corrupted=any(c.corrupted for c in contents),
        volumes=tuple(volumes),
    )
