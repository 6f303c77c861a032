"""Monthly protection cost and drill resource cost (azure-facts.md 'Prices')."""

from __future__ import annotations

from typing import Any

import pytest
from simworld import estate_doc, plan_doc

from drsim.cloud.api import ResourceKind
from drsim.cloud.prices import GB_PER_GIB, MONTH_DAYS, cost_per_day, list_prices
from drsim.cloud.sim import CostCategory, default_catalog, monthly_protection_cost

CATALOG = default_catalog()


def web_only(**rule: Any):  # type: ignore[no-untyped-def]
    return plan_doc([{"vms": {"tier": "web"}, **rule}])


def items(plan, category: CostCategory):  # type: ignore[no-untyped-def]
    return [i for i in monthly_protection_cost(estate_doc(), plan, CATALOG).items if i.category is category]


@pytest.mark.parametrize(("gb", "usd"), [(10, 5), (50, 5), (51, 10), (500, 10), (501, 20), (1000, 20), (1001, 30)])
def test_backup_protected_instance_is_priced_by_used_size(gb: float, usd: float) -> None:
    assert CATALOG.prices.backup_protected_instance.monthly(gb) == usd


def test_backup_instance_and_vault_storage_by_redundancy() -> None:
    lrs = items(web_only(backup={"policy": "standard", "vault_redundancy": "LRS"}), CostCategory.BACKUP_STORAGE)
    grs = items(web_only(backup={"policy": "standard", "vault_redundancy": "GRS"}), CostCategory.BACKUP_STORAGE)
    crr = items(
        web_only(backup={"policy": "standard", "vault_redundancy": "GRS", "cross_region_restore": True}), CostCategory.BACKUP_STORAGE
    )
    assert lrs[0].usd_per_month < grs[0].usd_per_month < crr[0].usd_per_month
    assert grs[0].usd_per_month / lrs[0].usd_per_month == pytest.approx(0.056 / 0.028, rel=1e-3)
    (instance,) = items(web_only(backup={"policy": "standard"}), CostCategory.BACKUP_INSTANCE)
    assert instance.usd_per_month == 5 and instance.vm == "web-01"  # 10 GiB used: the <= 50 GB band


def test_snapshot_storage_is_billed_on_used_size() -> None:
    (item,) = items(web_only(snapshots={"every": "24h", "incremental": False, "retain": 1}), CostCategory.SNAPSHOT_STORAGE)
    # web-01: a 64 GiB disk with 10 GiB used is billed for 10 GiB.
    assert item.usd_per_month == pytest.approx(10 * GB_PER_GIB * 0.05, rel=1e-3)


def test_site_recovery_costs_a_vm_fee_replica_disks_and_egress() -> None:
    plan = web_only(site_recovery={"target_region": "centralus"})
    (fee,) = items(plan, CostCategory.SITE_RECOVERY)
    assert fee.usd_per_month == 25
    assert items(plan, CostCategory.REPLICA_STORAGE)
    (egress,) = items(plan, CostCategory.EGRESS)
    assert egress.usd_per_month == pytest.approx(1 * GB_PER_GIB * MONTH_DAYS * 0.02, rel=1e-3)  # 1 GiB/day of churn


def test_image_storage_per_region() -> None:
    plan = plan_doc([{"vms": {"role": "golden-image"}, "image": {"regions": ["centralus", "eastus2"]}}])
    (image,) = items(plan, CostCategory.IMAGE_STORAGE)
    assert image.usd_per_month == pytest.approx(2 * 10 * GB_PER_GIB * 0.05, rel=1e-3)


def test_the_bill_adds_up_by_category_and_by_vm() -> None:
    cost = monthly_protection_cost(estate_doc(), plan_doc(), CATALOG)
    assert cost.total == pytest.approx(sum(cost.by_category().values()))
    assert cost.total == pytest.approx(sum(cost.by_vm().values()))
    assert set(cost.by_vm()) == {"sql-01", "web-01", "web-golden"}
    assert cost.catalog_version == CATALOG.version


def test_drill_resources_cost_per_day() -> None:
    prices = CATALOG.prices
    assert cost_per_day(prices, ResourceKind.VM, size="Standard_D2s_v5") == pytest.approx(0.096 * 24)
    assert cost_per_day(prices, ResourceKind.DISK, sku="Premium_LRS", size_gib=128) == pytest.approx(0.135 * 128 / MONTH_DAYS, abs=1e-4)
    assert cost_per_day(prices, ResourceKind.SNAPSHOT, used_gib=10) == pytest.approx(0.05 * 10 * GB_PER_GIB / MONTH_DAYS, abs=1e-4)
    assert cost_per_day(prices, ResourceKind.NETWORK) == 0


def test_the_azure_providers_list_prices_are_the_packaged_catalogs() -> None:
    assert list_prices() == CATALOG.prices
