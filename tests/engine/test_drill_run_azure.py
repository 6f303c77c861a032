"""`drsim drill run` of a drill with `provider: azure`, against the ARM emulator through the real SDK.

The emulator serves the simulated world of the same drill and seed (time 600 times faster than
real time); the drill runs through AzureProvider on the emulator's world time and must end as the
simulated run does, write its result, journal and reports, and leave nothing tagged behind.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from people_kit import wait_until_waiting

import drsim.cloud.emulator.server as server
from drsim.cli import main
from drsim.clock import ScaledClock
from drsim.cloud.emulator.state import estate_vm_uuids
from drsim.cloud.emulator.world import ArmSettings
from drsim.cloud.sim.catalog import default_catalog
from drsim.cloud.sim.incidents import incident_from_scenario
from drsim.cloud.sim.resources import DRILL_GROUP
from drsim.cloud.sim.world import build_world
from drsim.drills import AZURE_ENVIRONMENT, _azure_options_from_environment, approve_step
from drsim.engine.journal import read_journal
from drsim.measure.events import HumanActed
from drsim.model.checks import load_drill
from drsim.model.documents import Estate
from drsim.model.loader import load

DRILLS = Path(__file__).resolve().parents[2] / "drills"
SPEED = 600.0


def azure_copy(drill_path: Path, tmp_path: Path, *, subscription_id: str, endpoint: str) -> Path:
    """The example drill with provider: azure pointing at the emulator (documents by absolute path)."""
    data = yaml.safe_load(drill_path.read_text())
    for key in ("runbook", "estate", "plan"):
        data[key] = str((drill_path.parent / data[key]).resolve())
    data["provider"] = "azure"
    data["azure"] = {"subscription_id": subscription_id, "resource_group": DRILL_GROUP, "endpoint": endpoint}
    # The estate as `drsim discover` writes it: with each VM's vmId (the canary check needs it when
    # production's region is down).
    estate = load(Path(data["estate"]), Estate).doc
    discovered = yaml.safe_load(Path(data["estate"]).read_text())
    uuids = {vm.name: vm.vm_uuid for vm in estate_vm_uuids(estate).vms}
    for vm in discovered["vms"]:
        vm["vm_uuid"] = uuids[vm["name"]]
    data["estate"] = str(tmp_path / "estate-discovered.yaml")
    Path(data["estate"]).write_text(yaml.safe_dump(discovered, sort_keys=False))
    target = tmp_path / drill_path.name
    target.write_text(yaml.safe_dump(data, sort_keys=False))
    return target


def test_drill_run_with_provider_azure_ends_as_in_the_simulation(tmp_path: Path) -> None:
    example = DRILLS / "2026-q4-shop-asr.yaml"
    simulated = CliRunner().invoke(main, ["drill", "run", str(example), "--out", str(tmp_path / "sim"), "--quiet", "--no-report"])
    assert simulated.exit_code == 0, simulated.output
    sim_result = json.loads(next((tmp_path / "sim").rglob("result.json")).read_text())

    bundle = load_drill(example)
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
    # Pages of 100 items: at the default 2, the drill's listings take many round trips, each SPEED
    # times longer in world time than on Azure (paging is tested in tests/cloud/azure).
    thread = server.EmulatorThread(world, settings=ArmSettings(page_size=100))
    with thread as handle:
        drill_file = azure_copy(example, tmp_path, subscription_id=handle.subscription_id, endpoint=handle.url)
        # Against Azure a person declares the disaster: here from another thread, through the approval
        # files `drsim drill approve` writes, once the journal says the step waits.
        approver = threading.Thread(target=approve_when_waiting, args=(tmp_path / "azure", "declare", "Ines Commander"))
        approver.start()
        # The world's incident is the drill's incident_at; without --incident-at the run would declare it
        # when it starts, which on a loaded machine is many world minutes later at SPEED (and the RPO with it).
        # No prediction: its seconds of trials would count in the pinned RTO, at SPEED (tests/compare/test_twin_loop.py).
        when = drill.incident_at.isoformat()  # type: ignore[union-attr]
        run = CliRunner().invoke(
            main,
            ["drill", "run", str(drill_file), "--out", str(tmp_path / "azure"), "--quiet", "--incident-at", when, "--predict-trials", "0"],
        )
        approver.join(30)
        assert run.exit_code == 0, run.output
        run_dir = next((tmp_path / "azure").rglob("result.json")).parent
        result = json.loads((run_dir / "result.json").read_text())
        # the world the emulator serves: nothing of the run may be left in it
        remaining = thread.call(lambda: world.list_tagged(result_run_id(run_dir)))

    assert result["provider"] == "azure"
    assert result["status"] == sim_result["status"] == "passed"
    assert result["cleanup"] == {"status": "done", "leftovers": []}
    assert remaining == []
    assert [(t["step"], t["vm"], t["status"]) for t in result["tasks"]] == [(t["step"], t["vm"], t["status"]) for t in sim_result["tasks"]]
    azure_app, sim_app = result["apps"][0], sim_result["apps"][0]
    assert azure_app["consistent"] is sim_app["consistent"] is True
    assert azure_app["rto_met"] and azure_app["rpo_met"]
    # The recovered VMs run the writer they were recovered with, under their own vmIds: the emulator's
    # Run Command answers carry their markers, newer than the incident (test_emulator_compute). Only
    # production's count: the measured RPO is production's last marker before the incident, never 0.
    canaries = [e for e in map(json.loads, (run_dir / "journal.jsonl").read_text().splitlines()) if e.get("check") == "canary"]
    assert canaries and all(e["passed"] for e in canaries)
    assert all(datetime.fromisoformat(e["last_marker_at"]) <= drill.incident_at for e in canaries)  # type: ignore[operator]
    assert azure_app["rpo_s"] > 0 and sim_app["rpo_s"] > 0
    for name in ("journal.jsonl", "report.md", "report.html", "manifest.json"):
        assert (run_dir / name).is_file(), name
    verify = CliRunner().invoke(main, ["evidence", "verify", str(run_dir)])
    assert verify.exit_code == 0, verify.output
    acted = [e for e in read_journal(run_dir / "journal.jsonl").events if isinstance(e, HumanActed)]
    assert [(e.step, e.by, e.role, e.via) for e in acted] == [("declare", "Ines Commander", "incident commander", "drsim drill approve")]
    assert "| Ines Commander | incident commander | declare |" in (run_dir / "report.md").read_text()


def approve_when_waiting(out_dir: Path, step: str, by: str) -> None:
    """What a person does from another shell: `drsim drill approve RUN_DIR STEP --by NAME`, once the step waits."""
    run_dir = wait_until_waiting(out_dir, step)
    approve_step(run_dir, step, by=by, role="incident commander")


def result_run_id(run_dir: Path) -> str:
    first = json.loads((run_dir / "journal.jsonl").read_text().splitlines()[0])
    return str(first["run_id"])


def test_resume_against_azure_needs_a_journal(tmp_path: Path) -> None:
    drill_file = azure_copy(
        DRILLS / "2026-q4-shop-asr.yaml", tmp_path, subscription_id="00000000-0000-0000-0000-00000000d75a", endpoint="http://127.0.0.1:9"
    )
    (tmp_path / "run").mkdir()
    run = CliRunner().invoke(main, ["drill", "run", str(drill_file), "--resume", str(tmp_path / "run")])
    assert run.exit_code == 2
    assert f"--resume {tmp_path / 'run'}: no journal.jsonl there" in run.output


def test_provider_azure_without_an_azure_block_validates_and_runs_where_the_environment_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # FORMAT.md's Drill has no azure: block: where to run may come from the environment instead.
    example = DRILLS / "2026-q4-shop-asr.yaml"
    drill_file = azure_copy(example, tmp_path, subscription_id="", endpoint="")
    data = yaml.safe_load(drill_file.read_text())
    del data["azure"]
    drill_file.write_text(yaml.safe_dump(data, sort_keys=False))
    for name in AZURE_ENVIRONMENT.values():
        monkeypatch.delenv(name, raising=False)

    assert CliRunner().invoke(main, ["validate", str(drill_file)]).exit_code == 0
    missing = CliRunner().invoke(main, ["drill", "run", str(drill_file), "--out", str(tmp_path / "out"), "--quiet"])
    assert missing.exit_code == 2
    assert str(drill_file) in missing.output and "AZURE_SUBSCRIPTION_ID and DRSIM_AZURE_RESOURCE_GROUP" in missing.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("result.json"))

    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", "not-a-guid")
    monkeypatch.setenv("DRSIM_AZURE_RESOURCE_GROUP", "drills")
    wrong = CliRunner().invoke(main, ["drill", "run", str(drill_file), "--out", str(tmp_path / "out"), "--quiet"])
    assert wrong.exit_code == 2 and "AZURE_SUBSCRIPTION_ID:" in wrong.output

    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", "00000000-0000-0000-0000-000000000001")
    monkeypatch.setenv("DRSIM_AZURE_BACKUP_VAULT", "rsv-backup")
    options = _azure_options_from_environment(drill_file)
    assert (options.subscription_id, options.resource_group, options.backup_vault) == (
        "00000000-0000-0000-0000-000000000001",
        "drills",
        "rsv-backup",
    )
