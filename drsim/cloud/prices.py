"""List prices of what a drill creates, shared by the simulated world and the Azure provider.

The prices are the catalog's `prices` section (azure-facts.md 'Prices', order of magnitude, USD,
each with its source; a calibration may replace them in the simulator). Storage is billed on used
size where Azure bills it so (snapshots and the snapshots behind an image: disks-understand-billing),
managed disks on provisioned size, VMs by the hour while they run.
"""

from __future__ import annotations

import math
from functools import cache

from pydantic import Field

from drsim.cloud.api import ResourceKind
from drsim.cloud.figures import Figure, Strict, packaged_section

GB_PER_GIB = 1.073741824
MONTH_DAYS = 730 / 24  # Azure bills a month as 730 hours


def gb(gib: float) -> float:
    """Gibibytes in gigabytes (Azure bills storage per GB)."""
    return gib * GB_PER_GIB


class Price(Figure):
    usd: float = Field(ge=0)
    per: str


class PriceTable(Figure):
    """A price per key (SKU, size, redundancy) with a default for keys not listed."""

    by: dict[str, float]
    default: float = Field(ge=0)
    per: str

    def price(self, key: str) -> float:
        return self.by.get(key, self.default)


class PriceBand(Strict):
    up_to_gb: float = Field(gt=0)
    usd: float = Field(ge=0)


class TieredPrice(Figure):
    """Azure Backup protected-instance price: bands by used size, then a step per further block."""

    tiers: tuple[PriceBand, ...] = Field(min_length=1)
    above_every_gb: float = Field(gt=0)
    above_usd: float = Field(ge=0)

    def monthly(self, gb: float) -> float:
        for band in self.tiers:
            if gb <= band.up_to_gb:
                return band.usd
        last = self.tiers[-1]
        blocks = math.ceil((gb - last.up_to_gb) / self.above_every_gb)
        return last.usd + blocks * self.above_usd


class PriceList(Strict):
    """The catalog's `prices` section."""

    backup_protected_instance: TieredPrice
    backup_storage_gb_month: PriceTable
    snapshot_gb_month: Price
    site_recovery_vm_month: Price
    egress_gb: Price
    disk_gib_month: PriceTable
    vm_hour: PriceTable


@cache
def list_prices() -> PriceList:
    """The packaged catalog's prices (no calibration): what the Azure provider prices resources with."""
    return PriceList.model_validate(packaged_section("prices"))


def cost_per_day(
    prices: PriceList, kind: ResourceKind, *, size: str = "", sku: str = "", size_gib: float = 0.0, used_gib: float = 0.0
) -> float:
    """The list price per day of one resource a drill creates while it exists."""
    if kind is ResourceKind.VM:
        return round(prices.vm_hour.price(size) * 24, 4)
    if kind is ResourceKind.DISK:
        return round(prices.disk_gib_month.price(sku) * size_gib / MONTH_DAYS, 4)
    if kind in (ResourceKind.SNAPSHOT, ResourceKind.IMAGE):
        # Snapshots (and the snapshots behind a managed image) are billed on used size (disks-understand-billing).
        return round(prices.snapshot_gb_month.usd * gb(used_gib) / MONTH_DAYS, 4)
    return 0.0
