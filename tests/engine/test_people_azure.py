"""People in the loop against Azure (the ARM emulator, through the real SDK): `drsim drill approve` from a
second process answers the declaration; an approval nobody gives times out, and cleanup leaves nothing."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import yaml
from click.testing import CliRunner
from people_kit import journal_events, people_drill, wait_until_waiting

import drsim.cloud.emulator.server as server
from drsim.cli import main
from drsim.clock import ScaledClock
from drsim.cloud.emulator.world import ArmSettings
from drsim.cloud.sim.catalog import default_catalog
from drsim.cloud.sim.incidents import incident_from_scenario
from drsim.cloud.sim.resources import DRILL_GROUP
from drsim.cloud.sim.world import build_world
from drsim.model.checks import load_drill

SPEED = 600.0  # a 1h step timeout is 6 real seconds
DRSIM = [sys.executable, "-c", "from drsim.cli import main; main()"]


def test_a_second_process_declares_an_azure_drill_and_an_unanswered_approval_times_out(tmp_path: Path) -> None:
    drill_path = people_drill(tmp_path, timeout="1d", approve_timeout="1h")
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
    thread = server.EmulatorThread(world, settings=ArmSettings(page_size=100))
    out = tmp_path / "out"
    with thread as handle:
        data = yaml.safe_load(drill_path.read_text())
        data["provider"] = "azure"
        data["azure"] = {"subscription_id": handle.subscription_id, "resource_group": DRILL_GROUP, "endpoint": handle.url}
        azure_drill = tmp_path / "azure-drill.yaml"
        azure_drill.write_text(yaml.safe_dump(data, sort_keys=False))
        approvals: dict[str, subprocess.CompletedProcess[bytes]] = {}

        def declare() -> None:
            run_dir = wait_until_waiting(out, "declare")
            approvals["declare"] = subprocess.run(
                [*DRSIM, "drill", "approve", str(run_dir), "declare", "--by", "Alice Example", "--note", "eastus2 web tier lost"],
                capture_output=True,
                timeout=120,
                check=False,
            )

        person = threading.Thread(target=declare)
        person.start()
        run = CliRunner().invoke(
            main, ["drill", "run", str(azure_drill), "--out", str(out), "--quiet", "--incident-at", "2026-11-20T14:00:00Z"]
        )
        person.join(120)
        (run_dir,) = [p.parent for p in out.rglob("result.json")]
        run_id = journal_events(run_dir)[0]["run_id"]
        left = thread.call(lambda: world.list_tagged(run_id))

    assert approvals["declare"].returncode == 0, approvals["declare"].stderr.decode()
    assert run.exit_code == 1, run.output  # the approval timed out: the drill ran, and failed
    events = journal_events(run_dir)
    acted = [e for e in events if e["event"] == "human.acted"]
    assert [(e["step"], e["by"], e["role"], e["note"], e["via"]) for e in acted] == [
        ("declare", "Alice Example", "incident commander", "eastus2 web tier lost", "drsim drill approve")
    ]
    (failed,) = [e for e in events if e["event"] == "task.failed"]
    assert failed["step"] == "approve" and "timed out after 1h: nobody came to approve it" in failed["error"]
    assert [e["step"] for e in events if e["event"] == "human.waiting"] == ["declare", "approve"]
    created = {e["id"] for e in events if e["event"] == "resource.created"}
    assert created and created == {e["id"] for e in events if e["event"] == "resource.deleted"}
    assert left == []
    verify = CliRunner().invoke(main, ["evidence", "verify", str(run_dir)])
    assert verify.exit_code == 0, verify.output
    report = (run_dir / "report.md").read_text()
    assert "| Alice Example | incident commander | declare |" in report
    assert "**approve** (manual.approve) waited from" in report and "nobody came to approve it" in report
