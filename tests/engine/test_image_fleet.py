"""image.deploy of a fleet larger than one managed image serves at once (20 simultaneous deployments,
azure-facts.md: Images) waits its turn instead of failing, and check.boot of the image's VM checks
every VM of the fleet."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from drsim.cli import main

ROOT = Path(__file__).resolve().parents[2]

RUNBOOK = """\
apiVersion: drsim/v1
kind: Runbook
metadata: {name: web-fleet}
scenario: {incident: accidental-delete, vms: {app: shop, tier: web}}
steps:
  - {id: bubble, action: network.isolate, with: {region: centralus, cidr: 10.254.0.0/16}}
  - id: fleet
    action: image.deploy
    needs: [bubble]
    with: {image_of: web-golden, count: 25, network: bubble, region: centralus}
  - {id: boot, action: check.boot, needs: [fleet], with: {vms: {role: golden-image}}}
cleanup: always
"""

DRILL = f"""\
apiVersion: drsim/v1
kind: Drill
metadata: {{name: web-fleet}}
runbook: runbook.yaml
estate: {ROOT / "drills/estates/contoso.yaml"}
plan: {ROOT / "drills/plans/image-fleet.yaml"}
provider: sim
incident_at: 2026-11-21T09:30:00Z
seed: 3
"""


def test_a_fleet_beyond_twenty_deployments_per_image_waits_its_turn_and_boots(tmp_path: Path) -> None:
    (tmp_path / "runbook.yaml").write_text(RUNBOOK)
    (tmp_path / "drill.yaml").write_text(DRILL)
    run = CliRunner().invoke(main, ["drill", "run", str(tmp_path / "drill.yaml"), "--out", str(tmp_path / "out"), "--quiet", "--no-report"])
    assert run.exit_code == 0, run.output
    run_dir = next((tmp_path / "out").rglob("result.json")).parent
    result = json.loads((run_dir / "result.json").read_text())
    fleet = [t for t in result["tasks"] if t["step"] == "fleet"]
    assert len(fleet) == 25
    assert all(t["status"] == "succeeded" and t["attempts"] == 1 for t in fleet)
    assert [t["status"] for t in result["tasks"] if t["step"] == "boot"] == ["succeeded"]
    events = [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]
    boot = [e for e in events if e["event"] == "check.result" and e.get("check") == "boot"]
    assert len(boot) == 1 and boot[0]["passed"] is True
    vms = [e for e in events if e["event"] == "resource.created" and e["resource_kind"].endswith("virtualMachines")]
    assert len(vms) == 25
    assert result["cleanup"] == {"status": "done", "leftovers": []}
