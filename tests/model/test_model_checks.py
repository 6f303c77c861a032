"""Cross-document checks: protection lookup, cycles, drills and comparisons loaded whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from drsim.errors import DocumentError
from drsim.model import ProtectionPlan, load, load_comparison, load_drill, protection_of
from drsim.model.checks import find_cycle

ROOT = Path(__file__).resolve().parents[2]
PLANS = ROOT / "drills" / "plans"
DRILLS = sorted((ROOT / "drills").glob("2026-*.yaml"))


def test_protection_of_takes_the_first_rule_of_each_kind() -> None:
    plan = load(PLANS / "asr-and-daily-backup.yaml", ProtectionPlan).doc
    shop_db = protection_of(plan, "sql-01", {"app": "shop", "tier": "db"})
    assert shop_db.backup is plan.rules[0] and shop_db.site_recovery is plan.rules[0]
    assert shop_db.snapshots is None and shop_db.image is None
    pay_app = protection_of(plan, "pay-app-01", {"app": "payroll", "tier": "app"})
    assert pay_app.backup is plan.rules[2] and pay_app.site_recovery is None
    assert protection_of(plan, "dc-01", {"role": "domain-controller"}) == type(shop_db)()


def test_protection_of_an_image_rule() -> None:
    plan = load(PLANS / "image-fleet.yaml", ProtectionPlan).doc
    golden = protection_of(plan, "web-golden", {"role": "golden-image", "image-of": "shop-web"})
    assert golden.image is not None and golden.image.image is not None
    assert golden.image.image.regions == ("centralus", "eastus2")


@pytest.mark.parametrize(
    ("edges", "cycle"),
    [
        ({"a": ["b"], "b": ["c"], "c": []}, None),
        ({"a": ["b"], "b": ["a"]}, ["a", "b", "a"]),
        ({"a": ["b"], "b": ["c"], "c": ["b"]}, ["b", "c", "b"]),
        ({"a": ["a"]}, ["a", "a"]),
        ({"a": ["x"], "b": []}, None),
        ({"a": [], "b": ["a"], "c": ["b", "d"], "d": ["c"]}, ["c", "d", "c"]),
    ],
)
def test_find_cycle(edges: dict[str, list[str]], cycle: list[str] | None) -> None:
    assert find_cycle(edges) == cycle


def test_find_cycle_in_a_long_chain_does_not_recurse() -> None:
    edges = {f"s{i}": [f"s{i + 1}"] for i in range(5000)}
    edges["s5000"] = ["s0"]
    found = find_cycle(edges)
    assert found is not None and len(found) == 5002


@pytest.mark.parametrize("drill", DRILLS, ids=lambda p: p.stem)
def test_every_example_drill_loads_as_a_bundle(drill: Path) -> None:
    bundle = load_drill(drill)
    assert bundle.drill.doc.provider.value == "sim"
    assert bundle.estate.doc.name == "contoso"
    assert bundle.runbook.doc.steps


def test_load_comparison_gives_every_candidate() -> None:
    bundle = load_comparison(ROOT / "drills" / "shop-plans.yaml")
    assert [c.name for c in bundle.candidates] == ["daily-backup", "enhanced-4h", "asr", "snapshots-6h"]
    assert bundle.candidates[0].runbook.doc.name == bundle.candidates[1].runbook.doc.name == "shop-backup-restore"
    assert bundle.candidates[1].plan.doc.name == "enhanced-4h-grs"
    assert bundle.estate.doc.name == "contoso"


def test_load_comparison_reports_duplicate_candidates_and_missing_files(tmp_path: Path) -> None:
    good = ROOT / "tests" / "data" / "good"
    path = tmp_path / "cmp.yaml"
    path.write_text(
        "apiVersion: drsim/v1\nkind: Comparison\nmetadata: {name: c}\n"
        f"estate: {good / 'estate.yaml'}\n"
        "candidates:\n"
        f"  - {{name: a, plan: {good / 'plan.yaml'}, runbook: {good / 'runbook.yaml'}}}\n"
        f"  - {{name: a, plan: nowhere.yaml, runbook: {good / 'runbook.yaml'}}}\n"
    )
    with pytest.raises(DocumentError) as caught:
        load_comparison(path)
    messages = [(p.line, p.message.split(" (")[0]) for p in caught.value.problems]
    assert messages == [(7, "duplicate candidate 'a'"), (7, "plan: no such file 'nowhere.yaml'")]


def test_a_drill_reports_problems_in_every_referenced_file(tmp_path: Path) -> None:
    (tmp_path / "estate.yaml").write_text("apiVersion: drsim/v1\nkind: Estate\nmetadata: {name: e}\n")
    (tmp_path / "plan.yaml").write_text("apiVersion: drsim/v1\nkind: Runbook\nmetadata: {name: p}\n")
    (tmp_path / "drill.yaml").write_text(
        "apiVersion: drsim/v1\nkind: Drill\nmetadata: {name: d}\nrunbook: rb.yaml\nestate: estate.yaml\nplan: plan.yaml\n"
        "incident_at: random\n"
    )
    with pytest.raises(DocumentError) as caught:
        load_drill(tmp_path / "drill.yaml")
    files = sorted({Path(p.path).name for p in caught.value.problems})
    assert files == ["drill.yaml", "estate.yaml", "plan.yaml"]


@pytest.mark.parametrize(("power", "ok"), [("running", False), ("stopped", False), ("deallocated", True)])
def test_a_generalized_vm_is_deallocated(power: str, ok: bool) -> None:
    # Azure marks a VM generalized only once it is deallocated (azure-facts.md, Images).
    from pydantic import ValidationError

    from drsim.model.documents import VmSpec

    spec = {"name": "golden", "os": "linux", "size": "Standard_D2s_v5", "region": "eastus2", "network": "prod"}
    body = {**spec, "generalized": True, "power": power, "disks": [{"name": "os", "size_gib": 64, "used_gib": 8}]}
    if ok:
        assert VmSpec.model_validate(body).generalized
    else:
        with pytest.raises(ValidationError, match=f"a generalized VM is deallocated, not {power}"):
            VmSpec.model_validate(body)
