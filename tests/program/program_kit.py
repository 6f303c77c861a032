"""Runs for the DR-testing-program tests (`drsim due`, `drsim coverage`).

CI cannot reach Azure, so a run *executed against Azure* is stood in for by a simulated run turned
into one by `as_if_executed`: its journal's run.started says `provider: azure` (the chain re-linked),
result.json says so too, and the run is re-rendered and sealed again through `drsim report`. This is
test data only: drsim never relabels a run, and `drsim evidence verify` of the original seal would
name every changed file.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from drsim.cli import main

ROOT = Path(__file__).resolve().parents[2]
PAYROLL_RUNBOOK = """\
apiVersion: drsim/v1
kind: Runbook
metadata: {name: payroll-restore}
scenario: {incident: vm-loss, vms: {app: payroll}}
objectives:
  - {app: payroll, rto: 6h, rpo: 26h}
steps:
  - {id: east, action: network.isolate, with: {region: eastus2, cidr: 10.250.0.0/16}}
  - {id: central, action: network.isolate, with: {region: centralus, cidr: 10.251.0.0/16}}
  - {id: db, action: backup.restore, needs: [east], with: {vms: {app: payroll, tier: db}, network: east, point: latest}}
  - {id: app, action: backup.restore, needs: [east], with: {vms: {app: payroll, tier: app}, network: east, point: latest}}
  - {id: report, action: backup.restore, needs: [central], with: {vms: {app: payroll, tier: report}, network: central, point: latest}}
  - {id: boot, action: check.boot, needs: [db, app, report], with: {vms: {app: payroll}}}
  - {id: verify, action: check.canary, needs: [boot], with: {app: payroll}}
cleanup: always
"""
PAYROLL_DRILL = """\
apiVersion: drsim/v1
kind: Drill
metadata: {name: 2026-q4-payroll}
runbook: ../runbooks/payroll-restore.yaml
estate: estates/contoso.yaml
plan: plans/daily-backup.yaml
provider: sim
incident_at: 2026-11-20T14:00:00Z
seed: 42
"""


def example_documents(directory: Path) -> Path:
    """A copy of the example documents (which a test may change as production changes), plus a
    payroll drill (the examples drill only the shop)."""
    shutil.copytree(ROOT / "drills", directory / "drills")
    shutil.copytree(ROOT / "runbooks", directory / "runbooks")
    (directory / "runbooks" / "payroll-restore.yaml").write_text(PAYROLL_RUNBOOK)
    (directory / "drills" / "2026-q4-payroll.yaml").write_text(PAYROLL_DRILL)
    return directory


def run_drill(docs: Path, drill: str, out: Path) -> Path:
    """`drsim drill run` of one document; its run directory."""
    result = CliRunner().invoke(main, ["drill", "run", str(docs / "drills" / f"{drill}.yaml"), "--out", str(out), "--quiet"])
    assert result.exit_code in (0, 1), result.output
    (run_dir,) = (out / drill).iterdir()
    return run_dir


def _line_hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def as_if_executed(run_dir: Path) -> None:
    """Test data: make a simulated run read as one executed against Azure (see the module docstring)."""
    journal = run_dir / "journal.jsonl"
    prev = "0" * 64
    lines = []
    for number, raw in enumerate(journal.read_bytes().splitlines()):
        event = json.loads(raw)
        if number == 0:
            assert event["event"] == "run.started" and event["provider"] == "sim"
            event["provider"] = "azure"
        event["prev"] = prev
        line = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
        lines.append(line)
        prev = _line_hash(line)
    journal.write_bytes(b"".join(line + b"\n" for line in lines))
    path = run_dir / "result.json"
    result = json.loads(path.read_text())
    result.update(provider="azure", simulated=False, emulated=False)
    path.write_text(json.dumps(result, indent=2) + "\n")
    rendered = CliRunner().invoke(main, ["evidence", "seal", str(run_dir), "--force"])
    assert rendered.exit_code == 0, rendered.output
