"""Monthly protection costs of the test store's candidates, against hand calculations.

The store is one VM, db-01: disks of 20 + 60 GiB used, churning 1 + 4 GiB a day. Prices are the
catalog's (azure-facts.md 'Prices'); 1 GiB = 1.073741824 GB; a month is 730 h = 30.4167 days.
  used   = 80 GiB  = 85.8993 GB          churn = 5 GiB/day = 5.36871 GB/day
  backup protected instance, 50-500 GB used:                            $10
  vault storage, 30 d retention: 85.8993 + 29 x 5.36871 = 241.592 GB    x $0.028 (LRS) = $6.7646
                                                                        x $0.071 (GRS + CRR, billed as RA-GRS) = $17.1530
  instant-restore snapshots: churn x days kept x $0.05/GB: 2 d = $0.5369, 7 d = $1.8790
  Site Recovery: $25 + replica disks 192 GiB x $0.135 (Premium) = $25.92
                 + 1 d of recovery-point snapshots 5.36871 GB x $0.05 = $0.2684
                 + egress 5.36871 GB/day x 30.4167 d x $0.02 = $3.2660
"""

from __future__ import annotations

from pathlib import Path

import pytest

from drsim.compare import prepare
from drsim.compare.runner import monthly_costs

COMPARISON = Path(__file__).parent / "data" / "store-plans.yaml"

BY_HAND = {
    "daily": 10 + 6.7646 + 0.5369,
    "enhanced-4h": 10 + 6.7646 + 1.8790,
    "asr": 25 + 25.92 + 0.2684 + 3.2660,
    "daily-crr": 10 + 17.1530 + 0.5369,
}


def test_monthly_costs_match_the_hand_calculation() -> None:
    found = monthly_costs(prepare(COMPARISON))
    assert found == pytest.approx(BY_HAND, abs=0.002)


def test_a_what_if_changes_the_cost_it_should() -> None:
    # Five instead of two days of instant-restore snapshots: + 3 d x 5.36871 GB x $0.05 = + $0.8053.
    found = monthly_costs(prepare(COMPARISON, overrides=["daily.plan.rules[0].backup.instant_restore_days=5"]))
    assert found["daily"] == pytest.approx(BY_HAND["daily"] + 3 * 5.36871 * 0.05, abs=0.002)
    assert found["asr"] == pytest.approx(BY_HAND["asr"], abs=0.002)


def _one_drill(candidate: str, overrides: list[str] | None = None):
    from drsim.cloud.sim.catalog import default_catalog
    from drsim.compare.trials import trial_specs, worker_documents
    from drsim.drills import simulate_run

    inputs = prepare(COMPARISON, overrides=overrides or [])
    documents = worker_documents(inputs)
    spec = trial_specs(inputs, [0])[0]
    chosen = next(c for c in documents.candidates if c.name == candidate)
    outcome = simulate_run(chosen.runbook, documents.estate, chosen.plan, incident_at=spec.incident_at, seed=spec.seed)
    return outcome, documents.estate.doc, default_catalog()


def test_drill_resources_are_priced_by_hand() -> None:
    # A restored db-01: the VM (Standard_D2s_v5, $0.096/h = $2.304/day) and its two Premium disks
    # ($0.135 per GiB-month: 64 GiB = $0.2841/day, 128 GiB = $0.5681/day); the network is free.
    from drsim.compare.drillcost import drill_cost, priced_resources

    outcome, estate, catalog = _one_drill("daily")
    priced = priced_resources(outcome.events, estate, catalog)
    by_kind = sorted((r.kind.rsplit("/", 1)[-1], r.cost_per_day) for r in priced)
    assert by_kind == [
        ("disks", pytest.approx(0.2841, abs=1e-4)),
        ("disks", pytest.approx(0.5681, abs=1e-4)),
        ("networkSecurityGroups", 0.0),
        ("virtualMachines", 2.304),
        ("virtualNetworks", 0.0),
    ]
    assert all(r.alive_s > 0 for r in priced)
    assert drill_cost(outcome.events, estate, catalog) == pytest.approx(sum(r.cost_per_day * r.alive_s / 86400 for r in priced))


@pytest.mark.parametrize("candidate", ["daily", "asr", "daily-crr"])
def test_drill_prices_agree_with_the_simulated_world(candidate: str) -> None:
    # With cleanup: never every created resource is left behind, and the world lists each one with
    # its own price per day: the comparison's prices must be the same.
    from drsim.compare.drillcost import priced_resources

    outcome, estate, catalog = _one_drill(candidate, [f"{candidate}.runbook.cleanup=never"])
    leftovers = {left.id: left.cost_per_day for left in outcome.result.cleanup.leftovers}
    priced = {r.id: r.cost_per_day for r in priced_resources(outcome.events, estate, catalog)}
    assert leftovers and priced == pytest.approx(leftovers, abs=1e-4)


def test_disks_deployed_from_an_image_are_priced_as_the_images(tmp_path: Path) -> None:
    # The web tier rebuilt from its golden image (drills/2026-q4-web-image.yaml's runbook and plan): each
    # new VM's OS disk is a copy of the image's disk (web-golden's StandardSSD_LRS os disk), not of the
    # lost VM's (a Premium disk): the comparison's price is the simulated world's.
    from drsim.cloud.sim.catalog import default_catalog
    from drsim.compare.drillcost import priced_resources
    from drsim.compare.trials import trial_specs, worker_documents
    from drsim.drills import simulate_run

    root = Path(__file__).resolve().parents[2]
    comparison = tmp_path / "image.yaml"
    comparison.write_text(
        "apiVersion: drsim/v1\nkind: Comparison\nmetadata: {name: image}\n"
        f"estate: {root / 'drills/estates/contoso.yaml'}\n"
        f"candidates:\n  - {{name: image, plan: {root / 'drills/plans/image-fleet.yaml'}, "
        f"runbook: {root / 'runbooks/web-image-redeploy.yaml'}}}\n"
        "trials: 1\nwindow: 30d\nwindow_end: 2026-11-01T00:00:00Z\nseed: 5\n",
        encoding="utf-8",
    )
    inputs = prepare(comparison, overrides=["image.runbook.cleanup=never"])
    documents = worker_documents(inputs)
    (chosen,) = documents.candidates
    spec = trial_specs(inputs, [0])[0]
    outcome = simulate_run(chosen.runbook, documents.estate, chosen.plan, incident_at=spec.incident_at, seed=spec.seed)
    leftovers = {left.id: left.cost_per_day for left in outcome.result.cleanup.leftovers}
    priced = {r.id: r.cost_per_day for r in priced_resources(outcome.events, documents.estate.doc, default_catalog(), chosen.runbook.doc)}
    assert any("/disks/" in rid for rid in leftovers)
    assert leftovers and priced == pytest.approx(leftovers, abs=1e-4)
