"""What protecting an estate costs per month, line by line, at the catalog's list prices.

Prices come from the catalog (azure-facts.md 'Prices', order of magnitude, overridable). Storage is
billed on used size where Azure bills it so: Backup protected instances by used size, snapshots on
used size (a 64 GiB disk with 10 GiB used is billed for 10 GiB; disks-understand-billing), managed
disks on provisioned size. What a drill's own resources cost per day is drsim.cloud.prices.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum

from drsim.cloud.prices import MONTH_DAYS, gb
from drsim.cloud.sim.catalog import Catalog
from drsim.model.checks import protection_of
from drsim.model.documents import Estate, ProtectionPlan, VmSpec
from drsim.model.types import Redundancy


class CostCategory(StrEnum):
    BACKUP_INSTANCE = "backup-instance"
    BACKUP_STORAGE = "backup-storage"
    BACKUP_SNAPSHOTS = "backup-snapshots"
    SNAPSHOT_STORAGE = "snapshot-storage"
    SITE_RECOVERY = "site-recovery"
    REPLICA_STORAGE = "replica-storage"
    IMAGE_STORAGE = "image-storage"
    EGRESS = "egress"


@dataclass(frozen=True)
class CostItem:
    """One line of a protection bill: what, for which VM, how much per month, and on what basis."""

    vm: str
    category: CostCategory
    usd_per_month: float
    basis: str


@dataclass(frozen=True)
class ProtectionCost:
    """The monthly cost of a protection plan over an estate, line by line."""

    estate: str
    plan: str
    catalog_version: str
    items: tuple[CostItem, ...]

    @property
    def total(self) -> float:
        return sum(item.usd_per_month for item in self.items)

    def by_category(self) -> dict[CostCategory, float]:
        totals: dict[CostCategory, float] = defaultdict(float)
        for item in self.items:
            totals[item.category] += item.usd_per_month
        return dict(totals)

    def by_vm(self) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for item in self.items:
            totals[item.vm] += item.usd_per_month
        return dict(totals)


def _churn_per_day(vm: VmSpec) -> float:
    return sum(min(d.churn_gib_per_day, d.used_gib) for d in vm.disks)


def monthly_protection_cost(estate: Estate, plan: ProtectionPlan, catalog: Catalog) -> ProtectionCost:
    """The monthly list-price cost of protecting every VM of the estate as the plan says."""
    prices = catalog.prices
    snapshot_price = prices.snapshot_gb_month.usd
    egress = prices.egress_gb.usd
    items: list[CostItem] = []

    def add(vm: VmSpec, category: CostCategory, usd: float, basis: str) -> None:
        if usd > 0:
            items.append(CostItem(vm.name, category, round(usd, 4), basis))

    for vm in estate.vms:
        protection = protection_of(plan, vm.name, vm.tags)
        used_gb = gb(vm.used_gib)
        churn_gb = gb(_churn_per_day(vm))
        if protection.backup is not None and protection.backup.backup is not None:
            rule = protection.backup.backup
            # Protected instance: <=50 GB $5, 50-500 GB $10, +$10 per further 500 GB of used size (Prices).
            add(vm, CostCategory.BACKUP_INSTANCE, prices.backup_protected_instance.monthly(used_gb), f"{used_gb:.0f} GB used")
            redundancy = "RA-GRS" if rule.cross_region_restore else rule.vault_redundancy.value
            stored = used_gb + churn_gb * max(rule.retention_days - 1, 0)
            add(
                vm,
                CostCategory.BACKUP_STORAGE,
                stored * prices.backup_storage_gb_month.price(redundancy),
                f"{stored:.0f} GB in a {redundancy} vault ({rule.retention_days} d retention)",
            )
            # Instant-restore snapshots are incremental: the changes of instant_restore_days (assumption).
            instant = churn_gb * rule.snapshot_days
            add(vm, CostCategory.BACKUP_SNAPSHOTS, instant * snapshot_price, f"{instant:.0f} GB of instant-restore snapshots")
        if protection.snapshots is not None and protection.snapshots.snapshots is not None:
            snap = protection.snapshots.snapshots
            per_run = churn_gb * snap.every.total_seconds() / 86400
            # Incremental: the first is full, then deltas; billed on used size (disks-incremental-snapshots).
            kept = used_gb + min(per_run, used_gb) * (snap.retain - 1) if snap.incremental else used_gb * snap.retain
            add(vm, CostCategory.SNAPSHOT_STORAGE, kept * snapshot_price, f"{kept:.0f} GB of snapshots (retain {snap.retain})")
            if snap.copy_to_region is not None:
                add(vm, CostCategory.SNAPSHOT_STORAGE, kept * snapshot_price, f"{kept:.0f} GB of copies in {snap.copy_to_region}")
                moved = churn_gb * MONTH_DAYS
                add(vm, CostCategory.EGRESS, moved * egress, f"{moved:.0f} GB/month copied to {snap.copy_to_region}")
        if protection.site_recovery is not None and protection.site_recovery.site_recovery is not None:
            sr = protection.site_recovery.site_recovery
            # $25 per protected VM a month, plus replica disks and egress (Prices; first 31 days free not counted).
            add(vm, CostCategory.SITE_RECOVERY, prices.site_recovery_vm_month.usd, "protected VM")
            replica = sum(prices.disk_gib_month.price(d.sku) * d.size_gib for d in vm.disks)
            add(vm, CostCategory.REPLICA_STORAGE, replica, f"replica disks of {vm.size_gib} GiB in {sr.target_region}")
            points = churn_gb * sr.retention.total_seconds() / 86400
            add(vm, CostCategory.REPLICA_STORAGE, points * snapshot_price, f"{points:.0f} GB of recovery-point snapshots")
            moved = churn_gb * MONTH_DAYS
            add(vm, CostCategory.EGRESS, moved * egress, f"{moved:.0f} GB/month replicated to {sr.target_region}")
        if protection.image is not None and protection.image.image is not None:
            regions = protection.image.image.regions
            add(
                vm,
                CostCategory.IMAGE_STORAGE,
                used_gb * snapshot_price * len(regions),
                f"{used_gb:.0f} GB image in {len(regions)} region(s)",
            )
    return ProtectionCost(estate=estate.name, plan=plan.name, catalog_version=catalog.label, items=tuple(items))


def redundancy_price(catalog: Catalog, redundancy: Redundancy, *, cross_region_restore: bool = False) -> float:
    """Backup storage price per GB-month of a vault (GRS with CRR is billed as RA-GRS)."""
    key = "RA-GRS" if cross_region_restore and redundancy is Redundancy.GRS else redundancy.value
    return catalog.prices.backup_storage_gb_month.price(key)
