"""A generated comparison of any size: an estate of N VMs, four candidate plans and their runbooks.

For benchmarks (bench/compare_scale.py) and the fast model's agreement tests. The estate has apps of
up to 40 VMs in three tiers (web 16, app 16, db 8: tiers of at most 16 VMs, each a Site Recovery
consistency group), 3 disks per VM (os, data1, data2; a db VM stripes data1 and data2), in eastus2
recovering to centralus. The candidates mirror the shop comparison (drills/shop-plans.yaml):
daily backup, enhanced 4-hourly backup, Site Recovery with consistency groups, and 6-hourly snapshots.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

TIERS = (("web", 16, "linux", "Standard_D2s_v5"), ("app", 16, "linux", "Standard_D4s_v5"), ("db", 8, "windows", "Standard_E8s_v5"))
"""Tier, VMs per app (at most 16: one Site Recovery consistency group), OS and size."""


def default_sizes(vms: int) -> tuple[int, int, int]:
    """The VMs per app of each tier: 16, 16 and 8 (TIERS) when the first app reaches the db tier (more
    than 32 VMs); for a smaller estate, its VMs split over the three tiers in the same proportions (8 VMs:
    3, 3 and 2), so that every tier has a VM for the runbooks' steps to recover (a step whose selector
    matches no VM makes the comparison invalid, and `drsim compare` refuses it)."""
    web, app, db = (size for _, size, _, _ in TIERS)
    if vms > web + app:
        return web, app, db
    if vms < len(TIERS):
        raise ValueError(f"a generated comparison has at least {len(TIERS)} VMs (one per tier: web, app, db), got {vms}")
    dbs = max(1, round(vms * db / (web + app + db)))
    webs = -(-(vms - dbs) // 2)
    return webs, vms - dbs - webs, dbs


def estate(vms: int, sizes: tuple[int, int, int] | None = None) -> dict[str, Any]:
    """An estate of `vms` VMs (3 disks each) in apps of `sizes` VMs per tier (default: `default_sizes`),
    each tier at most 16 VMs; every tier has at least one VM (the runbooks recover each tier)."""
    if sizes is None:
        sizes = default_sizes(vms)
    tiers = tuple((t[0], size, t[2], t[3]) for t, size in zip(TIERS, sizes, strict=True))
    if any(not 1 <= size <= 16 for _, size, _, _ in tiers):
        raise ValueError("a tier has 1 to 16 VMs (one consistency group)")
    before = [sum(size for _, size, _, _ in tiers[:i]) for i in range(len(tiers))]  # the first app fills the tiers in order
    empty = [tier for (tier, _, _, _), filled in zip(tiers, before, strict=True) if vms <= filled]
    if empty:
        shape = "/".join(str(size) for _, size, _, _ in tiers)
        named = " and ".join(empty) + (" tiers" if len(empty) > 1 else " tier")
        raise ValueError(
            f"{vms} VMs in tiers of {shape} leave the {named} without a VM, which the runbooks recover: "
            f"give at least {before[-1] + 1} VMs, or smaller sizes (default_sizes)"
        )
    fleet: list[dict[str, Any]] = []
    apps: list[dict[str, Any]] = []
    app = 0
    while len(fleet) < vms:
        name = f"app{app:03d}"
        apps.append({"name": name, "vms": {"app": name}})
        for tier, size, os, vm_size in tiers:
            for k in range(size):
                if len(fleet) == vms:
                    break
                disks = [
                    {"name": "os", "size_gib": 128, "used_gib": 30, "churn_gib_per_day": 1},
                    {"name": "data1", "size_gib": 256, "used_gib": 80 + 10 * (k % 4), "churn_gib_per_day": 4},
                    {"name": "data2", "size_gib": 256, "used_gib": 80 + 10 * (k % 4), "churn_gib_per_day": 4},
                ]
                vm: dict[str, Any] = {
                    "name": f"{name}-{tier}-{k:02d}",
                    "os": os,
                    "size": vm_size,
                    "region": "eastus2",
                    "network": "prod-vnet",
                    "tags": {"app": name, "tier": tier, "env": "prod"},
                    "disks": disks,
                }
                if tier == "db":
                    vm["volumes"] = [{"name": "dbdata", "disks": ["data1", "data2"], "layout": "striped"}]
                fleet.append(vm)
        app += 1
    return {
        "apiVersion": "drsim/v1",
        "kind": "Estate",
        "metadata": {"name": f"generated-{vms}"},
        "regions": {"primary": "eastus2", "recovery": "centralus"},
        "networks": [
            {"name": "prod-vnet", "region": "eastus2", "cidr": "10.0.0.0/16", "peerings": ["hub-vnet"]},
            {"name": "hub-vnet", "region": "centralus", "cidr": "10.1.0.0/16", "peerings": ["prod-vnet"]},
        ],
        "vms": fleet,
        "apps": apps,
    }


def _plan(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "drsim/v1", "kind": "ProtectionPlan", "metadata": {"name": name}, "rules": rules}


def plans(groups: list[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """The four candidate plans; `groups` are the (app, tier) pairs the estate has (one consistency group each)."""
    asr_rules = [
        {
            "vms": {"app": app, "tier": tier},
            "site_recovery": {
                "target_region": "centralus",
                "app_consistent_every": "4h",
                "retention": "24h",
                "consistency_group": f"{app}-{tier}",
            },
        }
        for app, tier in groups
    ]
    return {
        "daily-backup": _plan(
            "daily-backup",
            [
                {
                    "vms": {"env": "prod"},
                    "backup": {"policy": "standard", "every": "24h", "at": "02:00", "instant_restore_days": 2, "vault_redundancy": "LRS"},
                }
            ],
        ),
        "enhanced-4h": _plan(
            "enhanced-4h",
            [
                {
                    "vms": {"env": "prod"},
                    "backup": {
                        "policy": "enhanced",
                        "every": "4h",
                        "at": "00:00",
                        "window": "24h",
                        "instant_restore_days": 7,
                        "vault_redundancy": "GRS",
                        "cross_region_restore": True,
                    },
                }
            ],
        ),
        "asr": _plan("asr", asr_rules),
        "snapshots-6h": _plan(
            "snapshots-6h",
            [{"vms": {"env": "prod"}, "snapshots": {"every": "6h", "at": "00:00", "incremental": True, "retain": 8}}],
        ),
    }


def _runbook(name: str, scenario: dict[str, Any], objectives: list[dict[str, Any]], steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "drsim/v1",
        "kind": "Runbook",
        "metadata": {"name": name},
        "scenario": scenario,
        "objectives": objectives,
        "steps": steps,
        "cleanup": "always",
    }


def runbooks(apps: list[str]) -> dict[str, dict[str, Any]]:
    def objectives(rto: str, rpo: str) -> list[dict[str, Any]]:
        return [{"app": app, "rto": rto, "rpo": rpo} for app in apps]

    checks = [
        {"id": "boot", "action": "check.boot", "needs": ["db", "app", "web"], "with": {"vms": {"env": "prod"}}},
        {"id": "verify", "action": "check.canary", "needs": ["boot"], "with": {"vms": {"env": "prod"}}},
    ]
    restore = _runbook(
        "restore",
        {"incident": "accidental-delete", "vms": {"env": "prod"}},
        objectives("6h", "26h"),
        [
            {"id": "declare", "action": "manual.declare", "with": {"duration": "15m"}},
            {"id": "bubble", "action": "network.isolate", "with": {"region": "eastus2", "cidr": "10.250.0.0/16"}},
            *(
                {
                    "id": tier,
                    "action": "backup.restore",
                    "needs": ["declare", "bubble"],
                    "with": {"vms": {"tier": tier}, "network": "bubble", "point": "latest"},
                    "timeout": "3h",
                    "retries": 1,
                }
                for tier in ("db", "app", "web")
            ),
            *checks,
        ],
    )
    failover = _runbook(
        "failover",
        {"incident": "region-outage", "region": "eastus2"},
        objectives("4h", "15m"),
        [
            {"id": "declare", "action": "manual.declare", "with": {"duration": "10m"}},
            {"id": "bubble", "action": "network.isolate", "with": {"region": "centralus", "cidr": "10.250.0.0/16"}},
            {
                "id": "db",
                "action": "asr.test_failover",
                "needs": ["declare", "bubble"],
                "with": {"vms": {"tier": "db"}, "network": "bubble", "recovery_point": "latest-processed"},
                "timeout": "1h",
                "retries": 2,
            },
            {
                "id": "app",
                "action": "asr.test_failover",
                "needs": ["db"],
                "with": {"vms": {"tier": "app"}, "network": "bubble", "recovery_point": "latest-processed"},
                "timeout": "1h",
                "retries": 2,
            },
            {
                "id": "web",
                "action": "asr.test_failover",
                "needs": ["app"],
                "with": {"vms": {"tier": "web"}, "network": "bubble", "recovery_point": "latest-processed"},
                "timeout": "1h",
                "retries": 2,
            },
            *checks,
        ],
    )
    clone = _runbook(
        "clone",
        {"incident": "vm-loss", "vms": {"tier": "web"}},
        objectives("6h", "7h"),
        [
            {"id": "declare", "action": "manual.declare", "with": {"duration": "10m"}},
            {"id": "bubble", "action": "network.isolate", "with": {"region": "eastus2", "cidr": "10.250.0.0/16"}},
            {
                "id": "db",
                "action": "snapshot.clone",
                "needs": ["declare", "bubble"],
                "with": {"vms": {"tier": "db"}, "network": "bubble", "source": "fresh"},
            },
            {
                "id": "app",
                "action": "snapshot.clone",
                "needs": ["declare", "bubble"],
                "with": {"vms": {"tier": "app"}, "network": "bubble", "source": "fresh"},
            },
            {
                "id": "web",
                "action": "snapshot.clone",
                "needs": ["declare", "bubble"],
                "with": {"vms": {"tier": "web"}, "network": "bubble", "source": "scheduled"},
            },
            *checks,
        ],
    )
    return {"restore": restore, "failover": failover, "clone": clone}


CANDIDATES = (("daily-backup", "restore"), ("enhanced-4h", "restore"), ("asr", "failover"), ("snapshots-6h", "clone"))


def write_comparison(directory: Path, vms: int, *, trials: int = 1000, seed: int = 7, sizes: tuple[int, int, int] | None = None) -> Path:
    """Write the generated comparison's files into `directory`; the path of its Comparison document.
    `sizes`: VMs per app of the web, app and db tiers (default: `default_sizes(vms)`, every tier with a VM);
    ValueError for sizes that leave a tier without a VM (the comparison would be invalid)."""
    directory.mkdir(parents=True, exist_ok=True)
    est = estate(vms, sizes)
    apps = [a["name"] for a in est["apps"]]
    files = {"estate.yaml": est}
    groups = list(dict.fromkeys((vm["tags"]["app"], vm["tags"]["tier"]) for vm in est["vms"]))
    files.update({f"plan-{name}.yaml": doc for name, doc in plans(groups).items()})
    files.update({f"runbook-{name}.yaml": doc for name, doc in runbooks(apps).items()})
    comparison = {
        "apiVersion": "drsim/v1",
        "kind": "Comparison",
        "metadata": {"name": f"generated-{vms}"},
        "estate": "estate.yaml",
        "candidates": [{"name": name, "plan": f"plan-{name}.yaml", "runbook": f"runbook-{runbook}.yaml"} for name, runbook in CANDIDATES],
        "mixed": True,  # each candidate faces its own runbook's incident and objectives, as the shop's runbooks do
        "trials": trials,
        "window": "30d",
        "window_end": "2026-11-01T00:00:00Z",
        "seed": seed,
    }
    files["comparison.yaml"] = comparison
    for name, doc in files.items():
        (directory / name).write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return directory / "comparison.yaml"
