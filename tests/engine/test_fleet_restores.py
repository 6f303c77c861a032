"""Large Azure Backup restores in the simulated world: ARM throttling and expiring snapshot tiers."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from drsim.drills import simulate_run
from drsim.engine.retry import throttle_delay
from drsim.measure.events import ResourceCreated, TaskFinished
from drsim.measure.result import RunStatus, TaskStatus
from drsim.model.documents import Estate, ProtectionPlan, Runbook

INCIDENT = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


def documents(vms: int, *, instant_restore_days: int = 2, incident: str = "vm-loss") -> tuple[Estate, ProtectionPlan, Runbook]:
    header: dict[str, Any] = {"apiVersion": "drsim/v1"}
    estate = Estate.model_validate(
        {
            **header,
            "kind": "Estate",
            "metadata": {"name": "fleet"},
            "regions": {"primary": "eastus2", "recovery": "centralus"},
            "networks": [{"name": "prod", "region": "eastus2", "cidr": "10.0.0.0/16"}],
            "vms": [
                {
                    "name": f"vm-{n:04d}",
                    "os": "linux",
                    "size": "Standard_D2s_v5",
                    "region": "eastus2",
                    "network": "prod",
                    "tags": {"app": "fleet"},
                    "disks": [{"name": "os", "size_gib": 64, "used_gib": 10, "churn_gib_per_day": 1}],
                }
                for n in range(vms)
            ],
            "apps": [{"name": "fleet", "vms": {"app": "fleet"}}],
        }
    )
    plan = ProtectionPlan.model_validate(
        {
            **header,
            "kind": "ProtectionPlan",
            "metadata": {"name": "daily"},
            "rules": [{"vms": {"app": "fleet"}, "backup": {"policy": "standard", "instant_restore_days": instant_restore_days}}],
        }
    )
    runbook = Runbook.model_validate(
        {
            **header,
            "kind": "Runbook",
            "metadata": {"name": "restore-fleet"},
            "scenario": {"incident": incident, "vms": {"app": "fleet"}},
            "steps": [
                {"id": "bubble", "action": "network.isolate", "with": {"region": "eastus2", "cidr": "10.250.0.0/16"}},
                {"id": "restore", "action": "backup.restore", "needs": ["bubble"], "with": {"vms": {"app": "fleet"}, "network": "bubble"}},
            ],
        }
    )
    return estate, plan, runbook


def test_a_throttled_call_waits_at_least_its_retry_after_spread_over_a_growing_window() -> None:
    rng = random.Random(1)
    first = [throttle_delay(rng, 1, 0.04) for _ in range(200)]
    later = [throttle_delay(rng, 8, 0.04) for _ in range(200)]
    assert min(first) >= 0.04 and max(first) <= 2.0
    assert max(later) > 30 and max(later) <= 60.0
    assert throttle_delay(rng, 1, 17.0) == 17.0


def test_a_fleet_restore_that_arm_throttles_still_completes() -> None:
    # 400 restores polled every 30 s exceed ARM's 25 reads/s refill: throttled calls wait and come
    # back spread out instead of failing the task.
    estate, plan, runbook = documents(400)
    outcome = simulate_run(runbook, estate, plan, incident_at=INCIDENT, seed=3, concurrency=400)
    assert outcome.result is not None
    assert {t.status for t in outcome.result.tasks} == {TaskStatus.SUCCEEDED}
    assert outcome.result.status is RunStatus.PASSED and outcome.result.cleanup.status == "done"


def test_auto_tier_restores_from_the_vault_once_the_snapshot_tier_has_expired() -> None:
    # One restore at a time: the last VMs' restores start more than a day after the points were
    # chosen, when the 1-day instant-restore snapshots are gone (backup-instant-restore-capability).
    estate, plan, runbook = documents(40, instant_restore_days=1)
    outcome = simulate_run(runbook, estate, plan, incident_at=INCIDENT, seed=5, concurrency=1)
    assert outcome.result is not None and outcome.result.status is RunStatus.PASSED
    tiers = [e.recovery_point.tier for e in outcome.events if isinstance(e, TaskFinished) and e.recovery_point is not None]
    assert len(tiers) == 40 and tiers[0] == "snapshot" and tiers[-1] == "vault"
    assert sum(1 for e in outcome.events if isinstance(e, ResourceCreated) and e.resource_kind.endswith("virtualMachines")) == 40


def test_latest_is_the_latest_point_when_each_restore_starts() -> None:
    # Ransomware leaves the VMs running, so backups go on after the incident. One restore at a time for
    # 40 VMs takes more than a day: the last restores start after the next daily backup and take it.
    estate, plan, runbook = documents(40, incident="ransomware")
    outcome = simulate_run(runbook, estate, plan, incident_at=INCIDENT, seed=5, concurrency=1)
    points = [e.recovery_point.time for e in outcome.events if isinstance(e, TaskFinished) and e.recovery_point is not None]
    assert len(points) == 40
    assert points[0] < INCIDENT < points[-1]
