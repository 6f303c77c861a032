"""Cross-document checks: protection lookup, cycles, drills and comparisons loaded whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from drsim.errors import DocumentError
from drsim.model import Estate, ProtectionPlan, load, load_comparison, load_drill, protection_of
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


def test_paired_regions_are_azures_some_one_way() -> None:
    from drsim.model.regions import paired_region

    pairs = {
        r: paired_region(r, primary="eastus2", recovery="westus2") for r in ("eastus2", "centralus", "westus3", "eastus", "qatarcentral")
    }
    assert pairs == {"eastus2": "centralus", "centralus": "eastus2", "westus3": "eastus", "eastus": "westus", "qatarcentral": None}
    # A region drsim does not know pairs with the estate's other region.
    assert paired_region("mars1", primary="mars1", recovery="mars2") == "mars2"


@pytest.mark.parametrize(
    ("recovery", "problem"), [("centralus", None), ("westus2", "restores in its paired region, centralus, not westus2")]
)
def test_cross_region_restore_goes_to_the_azure_paired_region(tmp_path: Path, recovery: str, problem: str | None) -> None:
    disks = "disks: [{name: os, size_gib: 64, used_gib: 10}]"
    (tmp_path / "estate.yaml").write_text(
        "apiVersion: drsim/v1\nkind: Estate\nmetadata: {name: e}\n"
        f"regions: {{primary: eastus2, recovery: {recovery}}}\n"
        "networks: [{name: prod, region: eastus2, cidr: 10.0.0.0/16}]\n"
        "vms:\n"
        f"  - {{name: web-1, os: linux, size: Standard_D2s_v5, region: eastus2, network: prod, tags: {{app: shop}}, {disks}}}\n"
    )
    (tmp_path / "plan.yaml").write_text(
        "apiVersion: drsim/v1\nkind: ProtectionPlan\nmetadata: {name: p}\n"
        "rules: [{vms: {app: shop}, backup: {policy: standard, vault_redundancy: GRS, cross_region_restore: true}}]\n"
    )
    (tmp_path / "rb.yaml").write_text(
        "apiVersion: drsim/v1\nkind: Runbook\nmetadata: {name: rb}\n"
        "scenario: {incident: region-outage, region: eastus2}\n"
        "steps:\n"
        f"  - {{id: bubble, action: network.isolate, with: {{region: {recovery}, cidr: 10.250.0.0/16}}}}\n"
        f"  - {{id: web, action: backup.restore, needs: [bubble], with: {{vms: {{app: shop}}, network: bubble, region: {recovery}}}}}\n"
    )
    (tmp_path / "drill.yaml").write_text(
        "apiVersion: drsim/v1\nkind: Drill\nmetadata: {name: d}\nrunbook: rb.yaml\nestate: estate.yaml\nplan: plan.yaml\n"
        "incident_at: 2026-11-20T14:00:00Z\n"
    )
    if problem is None:
        load_drill(tmp_path / "drill.yaml")
        return
    with pytest.raises(DocumentError) as caught:
        load_drill(tmp_path / "drill.yaml")
    assert [(Path(p.path).name, p.line) for p in caught.value.problems] == [("rb.yaml", 7)]
    assert problem in caught.value.problems[0].message


def test_a_reference_to_a_directory_or_an_invalid_document_is_named_where_it_is_made(tmp_path: Path) -> None:
    (tmp_path / "runbooks").mkdir()
    (tmp_path / "estate.yaml").write_text("apiVersion: drsim/v1\nkind: Estate\nmetadata: {name: e}\n")
    (tmp_path / "drill.yaml").write_text(
        "apiVersion: drsim/v1\nkind: Drill\nmetadata: {name: d}\nrunbook: runbooks\nestate: estate.yaml\n"
        f"plan: {ROOT / 'drills' / 'plans' / 'daily-backup.yaml'}\nincident_at: 2026-11-20T14:00:00Z\n"
    )
    with pytest.raises(DocumentError) as caught:
        load_drill(tmp_path / "drill.yaml")
    in_drill = [(p.line, p.message) for p in caught.value.problems if Path(p.path).name == "drill.yaml"]
    assert in_drill == [
        (4, f"runbook: 'runbooks' is a directory, not a document (resolved to {tmp_path / 'runbooks'})"),
        (5, "estate: 'estate.yaml' is not a valid Estate"),
    ]
    assert any(Path(p.path).name == "estate.yaml" for p in caught.value.problems)  # and its own problems, where they are


def _grouped_estate(tmp_path: Path) -> Path:
    estate = (ROOT / "tests" / "data" / "good" / "estate.yaml").read_text()
    estate = estate.replace("metadata: {name: small}", "metadata: {name: small}\nresource_group: shop-prod")
    estate = estate.replace(
        "  - {name: prod, region: eastus2, cidr: 10.0.0.0/16}",
        "  - {name: prod, region: eastus2, cidr: 10.0.0.0/16, resource_group: net-rg}",
    )
    estate = estate.replace("{name: os, size_gib: 128, used_gib: 40}", "{name: os, size_gib: 128, used_gib: 40, resource_group: Disks-RG}")
    path = tmp_path / "estate.yaml"
    path.write_text(estate)
    return path


@pytest.mark.parametrize(
    ("group", "holds"),
    [
        ("shop-prod", "VM web-1"),
        ("SHOP-PROD", "VM web-1"),
        ("net-rg", "network prod"),
        ("disks-rg", "disk os of VM db-1"),
        ("drsim-drills", None),
    ],
)
def test_a_drill_against_azure_never_runs_in_a_group_that_holds_production(tmp_path: Path, group: str, holds: str | None) -> None:
    good = ROOT / "tests" / "data" / "good"
    drill = tmp_path / "drill.yaml"
    drill.write_text(
        "apiVersion: drsim/v1\nkind: Drill\nmetadata: {name: d}\n"
        f"runbook: {good / 'runbook.yaml'}\nestate: {_grouped_estate(tmp_path)}\nplan: {good / 'plan.yaml'}\n"
        "provider: azure\nincident_at: 2026-11-20T14:00:00Z\n"
        f"azure: {{subscription_id: 6f1c2a0e-1d2b-4c3d-9e8f-0a1b2c3d4e5f, resource_group: {group}}}\n"
    )
    if holds is None:
        assert load_drill(drill).drill.doc.azure is not None
        return
    with pytest.raises(DocumentError) as raised:
        load_drill(drill)
    (problem,) = raised.value.problems
    assert (problem.path, problem.line) == (str(drill), 9)
    assert f"resource_group: {group} holds production ({holds} of estate small)" in problem.message


@pytest.mark.parametrize("cidr", ["true", "10", "1.5"])
def test_a_cidr_must_be_written_as_text(tmp_path: Path, cidr: str) -> None:
    # pydantic's IPv4Network alone reads `true` as 0.0.0.1/32 and 10 as 0.0.0.10/32.
    path = tmp_path / "estate.yaml"
    path.write_text(
        "apiVersion: drsim/v1\nkind: Estate\nmetadata: {name: e}\n"
        "regions: {primary: eastus2, recovery: centralus}\n"
        "networks:\n"
        f"  - {{name: prod, region: eastus2, cidr: {cidr}}}\n"
        "vms: []\n"
    )
    with pytest.raises(DocumentError) as caught:
        load(path, Estate)
    message = str(caught.value)
    assert "cidr" in message and "estate.yaml" in message and "estate.yaml:6:" in message, message
    assert "written as text" in message
