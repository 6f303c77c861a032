"""A step timeout in the middle of a Backup restore, against the ARM emulator through the real SDK:
the restore was journaled when Azure accepted it (operation.accepted); cleanup cancels its job
(JobCancellations_Trigger), journals the cancel (cleanup.restore_cancelled), waits for the job to end
Cancelled, finds nothing it created (a cancelled restore creates nothing), deletes the rest of the run
and says `done` only when nothing of the run is left in the world."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import drsim.cloud.emulator.server as server
from drsim.cli import main
from drsim.clock import ScaledClock
from drsim.cloud.emulator.backup import staging_account
from drsim.cloud.sim.catalog import default_catalog
from drsim.cloud.sim.incidents import incident_from_scenario
from drsim.cloud.sim.resources import DRILL_GROUP
from drsim.cloud.sim.world import build_world
from drsim.engine.journal import read_journal
from drsim.measure.events import CleanupRestoreCancelled, OperationAccepted, ResourceCreated, ResourceDeleted
from drsim.model.checks import load_drill

DRILLS = Path(__file__).resolve().parents[2] / "drills"
SPEED = 600.0


def restore_drill(tmp_path: Path, *, restore_as: str) -> Path:
    """One shop VM restored from Azure Backup, with a step timeout far under the restore's duration."""
    runbook = {
        "apiVersion": "drsim/v1",
        "kind": "Runbook",
        "metadata": {"name": f"restore-times-out-{restore_as}"},
        "scenario": {"incident": "accidental-delete", "vms": {"name": "app-01"}},
        "objectives": [{"app": "shop", "rto": "4h", "rpo": "24h"}],
        "steps": [
            {"id": "bubble", "action": "network.isolate", "with": {"region": "eastus2", "cidr": "10.250.0.0/16"}},
            {
                "id": "restore",
                "action": "backup.restore",
                "needs": ["bubble"],
                "with": {"vms": {"name": "app-01"}, "network": "bubble", "point": "latest", "as": restore_as},
                # Step timeouts run on the drill's clock (world time against the emulator): 10m ends the
                # attempt while the ~25-minute restore job is still running.
                "timeout": "10m",
            },
        ],
        "cleanup": "always",
    }
    (tmp_path / "runbook.yaml").write_text(yaml.safe_dump(runbook, sort_keys=False))
    drill = {
        "apiVersion": "drsim/v1",
        "kind": "Drill",
        "metadata": {"name": f"restore-timeout-{restore_as}"},
        "runbook": str(tmp_path / "runbook.yaml"),
        "estate": str(DRILLS / "estates" / "contoso.yaml"),
        "plan": str(DRILLS / "plans" / "daily-backup.yaml"),
        "provider": "sim",
        "incident_at": "2026-11-20T14:00:00Z",
        "seed": 42,
    }
    path = tmp_path / "drill.yaml"
    path.write_text(yaml.safe_dump(drill, sort_keys=False))
    return path


def on_emulator(drill_path: Path, tmp_path: Path, handle) -> Path:
    data = yaml.safe_load(drill_path.read_text())
    data["provider"] = "azure"
    data["azure"] = {
        "subscription_id": handle.subscription_id,
        "resource_group": DRILL_GROUP,
        "endpoint": handle.url,
        "staging_storage_account": staging_account(handle.subscription_id),
    }
    target = tmp_path / "azure-drill.yaml"
    target.write_text(yaml.safe_dump(data, sort_keys=False))
    return target


@pytest.mark.parametrize("restore_as", ["vm", "disks"])
def test_a_step_timeout_during_a_restore_leaves_nothing_behind(tmp_path: Path, restore_as: str) -> None:
    drill_path = restore_drill(tmp_path, restore_as=restore_as)
    bundle = load_drill(drill_path)
    drill, runbook, estate, plan = bundle.drill.doc, bundle.runbook.doc, bundle.estate.doc, bundle.plan.doc
    incident = incident_from_scenario(runbook.scenario, estate, drill.incident_at)  # type: ignore[arg-type]
    world = build_world(
        estate,
        plan,
        incident=incident,
        seed=drill.seed,
        clock=ScaledClock(incident.detected_at, SPEED),
        options=drill.sim,
        catalog=default_catalog(),
    )
    thread = server.EmulatorThread(world)
    with thread as handle:
        azure_drill = on_emulator(drill_path, tmp_path, handle)
        run = CliRunner().invoke(main, ["drill", "run", str(azure_drill), "--out", str(tmp_path / "out"), "--quiet", "--no-report"])
        run_dir = next((tmp_path / "out").rglob("result.json")).parent
        run_id = run_dir.name
        remaining = thread.call(lambda: world.list_tagged(run_id))
        vms = [vm.name for vm in thread.call(world.list_vms)]
        disks = [d for d in world._disks if "/resourcegroups/drsim-drills/" in d.lower()]

        async def job_statuses() -> set[str]:
            return {(await world.get_job(job_id)).status.value for job_id in list(world._jobs)}

        jobs = thread.call(job_statuses)

    assert run.exit_code == 1, run.output  # the step timed out: the recovery failed (too slow)
    result = json.loads((run_dir / "result.json").read_text())
    assert [t["status"] for t in result["tasks"] if t["step"] == "restore"] == ["failed"]
    events = read_journal(run_dir / "journal.jsonl").events
    accepted = [e for e in events if isinstance(e, OperationAccepted)]
    assert [(e.operation, e.vm, e.mode) for e in accepted] == [("restore", "app-01", restore_as)]
    created = {e.id.lower() for e in events if isinstance(e, ResourceCreated)}
    deleted = {e.id.lower() for e in events if isinstance(e, ResourceDeleted)}
    # The restore's job was cancelled by cleanup and ended Cancelled: nothing restored was recorded (no task
    # made it, and the job created nothing), and the world's job says Cancelled too.
    (cancel,) = [e for e in events if isinstance(e, CleanupRestoreCancelled)]
    assert (cancel.vm, cancel.status, cancel.error) == ("app-01", "Cancelled", None)
    assert cancel.job.lower() == (accepted[0].job or "").lower()
    assert jobs == {"Cancelled"}
    assert not [e for e in events if isinstance(e, ResourceCreated) and e.task is None]
    assert created and created == deleted  # the bubble network, deleted as always
    assert result["cleanup"] == {"status": "done", "leftovers": []}
    assert remaining == []
    assert not [name for name in vms if accepted[0].target and name.startswith(accepted[0].target)]
    assert disks == []
