"""Helpers of the simulated-world tests: a small estate, a plan, incidents, and running a world in virtual time."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

from drsim.cloud.sim import Catalog, IncidentSpec, SimProvider, build_world
from drsim.engine.clock import VirtualClock, run_virtual
from drsim.model.documents import Estate, ProtectionPlan, SimOptions
from drsim.model.types import IncidentKind

T = TypeVar("T")
INCIDENT = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


def estate_doc(**changes: Any) -> Estate:
    data: dict[str, Any] = {
        "apiVersion": "drsim/v1",
        "kind": "Estate",
        "metadata": {"name": "contoso"},
        "regions": {"primary": "eastus2", "recovery": "centralus"},
        "networks": [{"name": "prod-vnet", "region": "eastus2", "cidr": "10.0.0.0/16", "gateway": True}],
        "vms": [
            {
                "name": "sql-01",
                "os": "windows",
                "size": "Standard_E8s_v5",
                "region": "eastus2",
                "network": "prod-vnet",
                "tags": {"app": "shop", "tier": "db"},
                "disks": [
                    {"name": "os", "size_gib": 128, "used_gib": 40},
                    {"name": "data1", "size_gib": 512, "used_gib": 300, "churn_gib_per_day": 20},
                    {"name": "data2", "size_gib": 512, "used_gib": 300, "churn_gib_per_day": 20},
                ],
                "volumes": [{"name": "sqldata", "disks": ["data1", "data2"], "layout": "striped"}],
            },
            {
                "name": "web-01",
                "os": "linux",
                "size": "Standard_D2s_v5",
                "region": "eastus2",
                "network": "prod-vnet",
                "tags": {"app": "shop", "tier": "web"},
                "disks": [{"name": "os", "size_gib": 64, "used_gib": 10, "churn_gib_per_day": 1}],
            },
            {
                "name": "web-golden",
                "os": "linux",
                "size": "Standard_D2s_v5",
                "region": "eastus2",
                "network": "prod-vnet",
                "generalized": True,
                "power": "deallocated",
                "tags": {"role": "golden-image"},
                "disks": [{"name": "os", "size_gib": 64, "used_gib": 10}],
            },
        ],
        "apps": [{"name": "shop", "vms": {"app": "shop"}}],
    }
    data.update(changes)
    return Estate.model_validate(data)


def plan_doc(rules: list[dict[str, Any]] | None = None) -> ProtectionPlan:
    default = [
        {
            "vms": {"app": "shop"},
            "backup": {
                "policy": "standard",
                "every": "24h",
                "at": "02:00",
                "instant_restore_days": 2,
                "vault_redundancy": "GRS",
                "cross_region_restore": True,
            },
            "site_recovery": {"target_region": "centralus", "app_consistent_every": "4h", "retention": "24h", "consistency_group": "shop"},
            "snapshots": {"every": "6h", "incremental": True, "retain": 4, "copy_to_region": "centralus"},
        },
        {"vms": {"role": "golden-image"}, "image": {"regions": ["centralus"]}},
    ]
    return ProtectionPlan.model_validate(
        {"apiVersion": "drsim/v1", "kind": "ProtectionPlan", "metadata": {"name": "plan"}, "rules": rules if rules is not None else default}
    )


def outage(region: str = "eastus2", at: datetime = INCIDENT) -> IncidentSpec:
    return IncidentSpec(IncidentKind.REGION_OUTAGE, at, region=region)


def strike(kind: IncidentKind, *vms: str, at: datetime = INCIDENT, **extra: Any) -> IncidentSpec:
    return IncidentSpec(kind, at, vms=vms, **extra)


WorldFactory = Callable[..., SimProvider]


def make_world(
    *,
    estate: Estate | None = None,
    plan: ProtectionPlan | None = None,
    incident: IncidentSpec | None = None,
    seed: int = 42,
    origin: datetime | None = None,
    catalog: Catalog | None = None,
    **options: Any,
) -> SimProvider:
    """A world at `origin` (default: the incident time); throttling off unless asked for."""
    incident = incident or outage("westeurope")  # strikes nothing of the test estate
    options.setdefault("throttling", False)
    return build_world(
        estate or estate_doc(),
        plan or plan_doc(),
        incident=incident,
        seed=seed,
        clock=VirtualClock(origin or incident.at),
        options=SimOptions(**options),
        catalog=catalog,
    )


def run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return run_virtual(main())
