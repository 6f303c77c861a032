"""Recovery points computed analytically from protection schedules: never by simulating the history.

Given a policy, a VM and an instant, these functions list the points that exist at that instant in
time proportional to the retention (days or hours), not to the events of the history. Every random
figure is a keyed draw (draws.py), so a point's time is the same whenever and however it is asked.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from drsim.cloud.api import PointTier, PointType
from drsim.cloud.sim.catalog import Catalog
from drsim.cloud.sim.draws import Draws
from drsim.cloud.sim.workload import CANARY_EPOCH
from drsim.model.documents import BackupRule, SiteRecoveryRule, SnapshotRule
from drsim.model.types import BackupPolicyKind, OsType, PowerState

DAY = timedelta(days=1)


def _seconds(at: datetime) -> float:
    return (at - CANARY_EPOCH).total_seconds()


def _instant(seconds: float) -> datetime:
    return CANARY_EPOCH + timedelta(seconds=seconds)


def backup_consistency(os: OsType, power: PowerState) -> PointType:
    """The consistency Azure Backup gets from a VM (azure-facts.md, Azure Backup 'Consistency').

    A running Windows VM (healthy VSS writers) gives application-consistent points, a running Linux
    VM file-system consistent ones (no pre/post scripts), a VM that is shut down crash-consistent only.
    """
    if power is not PowerState.RUNNING:
        return PointType.CRASH_CONSISTENT
    return PointType.APP_CONSISTENT if os is OsType.WINDOWS else PointType.FILE_SYSTEM_CONSISTENT


# ------------------------------------------------------------------------------------ Azure Backup


@dataclass(frozen=True, slots=True)
class ScheduledBackup:
    """One scheduled Azure Backup job of one VM and the life of its recovery point."""

    scheduled: datetime  # the policy's time for the job
    time: datetime  # the snapshot instant: the recovery point's time
    usable_at: datetime  # snapshot phase done: restorable from the snapshot tier
    snapshot_until: datetime  # instant-restore snapshot deleted
    vault_at: datetime | None  # transfer phase done (None: this point never goes to the vault)
    expires_at: datetime  # vault retention ends
    crr_at: datetime | None  # in the paired region (GRS + cross-region restore): after vault_at, by time + 12 h

    def tiers(self, at: datetime) -> frozenset[PointTier]:
        """Where the point can be restored from at `at` (empty: not yet usable, or expired)."""
        found = set()
        if self.usable_at <= at < self.snapshot_until:
            found.add(PointTier.SNAPSHOT)
        if self.vault_at is not None and self.vault_at <= at < self.expires_at:
            found.add(PointTier.VAULT)
        return frozenset(found)

    def in_paired_region(self, at: datetime) -> bool:
        """Visible for cross-region restore at `at` (vault tier only, never the snapshot tier)."""
        return self.crr_at is not None and self.crr_at <= at < self.expires_at


def backup_slots(rule: BackupRule, day: datetime) -> list[datetime]:
    """The scheduled job times of one policy day (UTC midnight `day`)."""
    start = day + timedelta(hours=rule.start.hour, minutes=rule.start.minute)
    if rule.policy is BackupPolicyKind.STANDARD:
        # Standard policy: one scheduled backup a day (backup-support-matrix-iaas, H).
        return [start]
    # Enhanced policy: every 4/6/8/12/24 h inside a window, default 24 h (backup-azure-vms-enhanced-policy, H).
    window = rule.window or DAY
    count = max(1, math.ceil(window / rule.interval))
    return [start + k * rule.interval for k in range(count)]


class BackupHistory:
    """The scheduled backups of one VM under one policy, computed a policy day at a time and kept.

    A day's jobs are keyed draws, the same whenever they are asked for, so a world keeps each VM's
    history: listing its points again, or finding the one a restore names, draws nothing more.
    """

    __slots__ = ("_days", "_draws", "_retention", "_rule", "_snapshot_days", "_timings", "_vm")

    def __init__(self, rule: BackupRule, vm: str, catalog: Catalog, draws: Draws) -> None:
        self._rule = rule
        self._vm = vm
        self._timings = catalog.backup
        self._draws = draws
        self._retention = timedelta(days=rule.retention_days)
        self._snapshot_days = timedelta(days=rule.snapshot_days)
        self._days: dict[date, tuple[ScheduledBackup, ...]] = {}

    def existing(self, *, at: datetime, stop: datetime | None) -> list[ScheduledBackup]:
        """Every backup taken before `at` (and before `stop`, when the VM stopped existing) whose
        point may still exist at `at`, oldest first."""
        found = list(self.newest_first(at=at, stop=stop))
        found.sort(key=lambda b: b.time)
        return found

    def newest_first(self, *, at: datetime, stop: datetime | None) -> Iterator[ScheduledBackup]:
        """The backups of `existing`, newest policy day first: a search for one point stops where it is."""
        taken_before = at if stop is None else min(at, stop)
        day = at.astimezone(UTC).date()
        first = (at - self._retention - DAY).astimezone(UTC).date()
        while day >= first:
            for backup in reversed(self._day(day)):
                if backup.time < taken_before and backup.expires_at > at:
                    yield backup
            day -= DAY

    def _day(self, day: date) -> tuple[ScheduledBackup, ...]:
        found = self._days.get(day)
        if found is None:
            found = self._days[day] = self._schedule(day)
        return found

    def _schedule(self, day: date) -> tuple[ScheduledBackup, ...]:
        """The jobs of one policy day and the life of their points, in slot order."""
        # The hot path of a comparison's engine trials: the keyed draws are built here with one f-string
        # each (draws.unit_of), the same keys as draws.sample(dist, "backup-jitter", vm, key) would join.
        rule, vm, timings = self._rule, self._vm, self._timings
        unit = self._draws.unit_of
        slots = backup_slots(rule, datetime.combine(day, time(0), tzinfo=UTC))
        last = len(slots) - 1
        standard = rule.policy is BackupPolicyKind.STANDARD
        crr = rule.cross_region_restore
        jobs = []
        for index, scheduled in enumerate(slots):
            key = f"{vm}/{scheduled.isoformat()}"
            # A job starts within 2 h of its scheduled time (backup-azure-vm-backup-faq, H).
            taken = scheduled + timedelta(seconds=timings.schedule_jitter.sample(unit(f"backup-jitter/{key}")))
            usable = taken + timedelta(seconds=timings.snapshot_phase.sample(unit(f"backup-snapshot/{key}")))
            # Enhanced policy: only the last backup of the day goes to the vault tier (enhanced policy page, H).
            vault_at = crr_at = None
            if standard or index == last:
                vault_at = usable + timedelta(seconds=timings.transfer_phase.sample(unit(f"backup-transfer/{key}")))
                if crr:
                    # CRR data age is up to 36 h = 24 h primary + up to 12 h replication to the paired
                    # region (reliability-backup, H): a point is there within 12 h of its own time, the
                    # transfer phase included, and never before it reached the vault.
                    crr_at = max(vault_at, taken + timedelta(seconds=timings.crr_lag.sample(unit(f"backup-crr/{key}"))))
            jobs.append(ScheduledBackup(scheduled, taken, usable, taken + self._snapshot_days, vault_at, taken + self._retention, crr_at))
        return tuple(jobs)


def backup_schedule(
    rule: BackupRule, vm: str, catalog: Catalog, draws: Draws, *, at: datetime, stop: datetime | None
) -> list[ScheduledBackup]:
    """Every backup of `vm` taken before `at` (and before `stop`, when the VM stopped existing) whose
    point may still exist at `at`, oldest first (a fresh BackupHistory: nothing kept)."""
    return BackupHistory(rule, vm, catalog, draws).existing(at=at, stop=stop)


# ---------------------------------------------------------------------------------- Site Recovery


@dataclass(frozen=True, slots=True)
class ReplicationTiming:
    """The replication constants of one VM, or of one multi-VM consistency group (shared instants)."""

    anchor: float  # seconds since the canary epoch of one crash-consistent point (the grid's phase)
    interval: float  # crash-consistent point interval (5 min)
    lag: float  # seconds for written data to reach the target region
    processing: float  # seconds for a point to be processed at the target once its data arrived
    app_every: float | None  # app-consistent snapshot interval (None: off, the default)
    retention: float
    recent: float  # every point of this recent window is kept (2 h)
    bucket: float  # older points: one per bucket (1 h)


@dataclass(frozen=True, slots=True)
class ScheduledReplicationPoint:
    time: datetime
    type: PointType
    processed: bool = True


def replication_timing(rule: SiteRecoveryRule, key: str, catalog: Catalog, draws: Draws, *, lag_factor: float = 1.0) -> ReplicationTiming:
    """The constants of one replication stream (`key`: the VM, or its consistency group)."""
    sr = catalog.site_recovery
    # Crash-consistent points every 5 min, fixed (azure-to-azure-architecture, H).
    interval = sr.crash_point_interval.sample(0.5)
    return ReplicationTiming(
        anchor=draws.unit("asr-anchor", key) * interval,
        interval=interval,
        lag=draws.sample(sr.replication_lag, "asr-lag", key) * lag_factor,
        processing=draws.sample(sr.point_processing, "asr-processing", key),
        app_every=rule.app_consistent_every.total_seconds() if rule.app_consistent_every is not None else None,
        retention=rule.retention.total_seconds(),
        # Pruning: all points of the last 2 h, then 1 an hour (A2A FAQ, H).
        recent=sr.pruning_recent.sample(0.5),
        bucket=sr.pruning_bucket.sample(0.5),
    )


def pending_instant(timing: ReplicationTiming, *, at: datetime, stop: datetime | None) -> datetime:
    """The newest source instant whose data has reached the target region by `at` ('latest')."""
    end = at if stop is None else min(at, stop)
    return end - timedelta(seconds=timing.lag)


def replication_points(
    timing: ReplicationTiming, *, at: datetime, stop: datetime | None, app_consistent: bool
) -> list[ScheduledReplicationPoint]:
    """The processed recovery points of a replicated VM at `at`, after retention and pruning, oldest first.

    A point at p exists once the data up to p reached the target (p <= min(at, stop) - lag) and is
    processed after `processing` more; `app_consistent` is False when the VM cannot take VSS / script
    snapshots (not running). An app-consistent point at the same instant as a crash point replaces it.
    """
    now = _seconds(at)
    limit = now - timing.lag - timing.processing
    if stop is not None:
        limit = min(limit, _seconds(stop) - timing.lag)
    oldest = now - timing.retention
    if limit <= oldest:
        return []
    app_every = timing.app_every if app_consistent else None

    def latest_on(grid: float, upto: float) -> float:
        k = math.floor((upto - timing.anchor) / grid + 1e-9)
        return timing.anchor + k * grid

    chosen: dict[float, PointType] = {}
    recent_from = now - timing.recent
    # Recent window: every crash and app point.
    first = math.ceil((max(recent_from, oldest) - timing.anchor) / timing.interval - 1e-9)
    last = math.floor((limit - timing.anchor) / timing.interval + 1e-9)
    for k in range(first, last + 1):
        p = timing.anchor + k * timing.interval
        if p > oldest:
            chosen[p] = PointType.CRASH_CONSISTENT
    if app_every is not None:
        first = math.ceil((max(recent_from, oldest) - timing.anchor) / app_every - 1e-9)
        last = math.floor((limit - timing.anchor) / app_every + 1e-9)
        for k in range(first, last + 1):
            p = timing.anchor + k * app_every
            if p > oldest:
                chosen[p] = PointType.APP_CONSISTENT
    # Older points: one per hour, the app-consistent one when the hour has one.
    bucket = math.floor(oldest / timing.bucket)
    while bucket * timing.bucket < min(recent_from, limit):
        start, end = bucket * timing.bucket, min((bucket + 1) * timing.bucket, recent_from, limit + 1e-6)
        keep: tuple[float, PointType] | None = None
        if app_every is not None:
            p = latest_on(app_every, end - 1e-6)
            if start <= p <= limit and p > oldest:
                keep = (p, PointType.APP_CONSISTENT)
        if keep is None:
            p = latest_on(timing.interval, end - 1e-6)
            if start <= p <= limit and p > oldest:
                keep = (p, PointType.CRASH_CONSISTENT)
        if keep is not None:
            chosen[keep[0]] = keep[1]
        bucket += 1
    return [ScheduledReplicationPoint(_instant(p), chosen[p]) for p in sorted(chosen)]


# -------------------------------------------------------------------------- scheduled snapshots


@dataclass(frozen=True, slots=True)
class ScheduledSnapshot:
    """One scheduled managed-disk snapshot of one disk, taken at the disk's own instant."""

    index: int  # the schedule slot
    taken_at: datetime


def snapshot_schedule(
    rule: SnapshotRule, disk_key: str, catalog: Catalog, draws: Draws, *, at: datetime, stop: datetime | None
) -> list[ScheduledSnapshot]:
    """The retained scheduled snapshots of one disk at `at`: the last `retain` taken, oldest first.

    Each disk of a run is snapshotted at its own instant (a snapshot covers ONE disk and knows of no
    other; azure-facts.md, Managed disk snapshots, H).
    """
    start = rule.at or time(0)
    origin = _seconds(CANARY_EPOCH + timedelta(hours=start.hour, minutes=start.minute))
    every = rule.every.total_seconds()
    end = at if stop is None else min(at, stop)
    last = math.floor((_seconds(end) - origin) / every)
    found: list[ScheduledSnapshot] = []
    spread, unit = catalog.snapshots.scheduled_spread, draws.unit_of  # unit_of: the key draws.sample would join
    for index in range(last, last - rule.retain - 2, -1):
        taken = _instant(origin + index * every + spread.sample(unit(f"snapshot-spread/{disk_key}/{index}")))
        if taken <= at and (stop is None or taken < stop):
            found.append(ScheduledSnapshot(index, taken))
        if len(found) == rule.retain:
            break
    found.reverse()
    return found
