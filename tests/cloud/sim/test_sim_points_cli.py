"""`drsim sim points DRILL`: what the simulator believes each VM has at the incident."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from drsim.cli import main

DATA = Path(__file__).with_name("data")
DRILL = str(DATA / "drill.yaml")


def test_sim_points_lists_backup_points_site_recovery_and_snapshots_as_json() -> None:
    result = CliRunner().invoke(main, ["sim", "points", DRILL, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["incident"] == "region-outage" and data["incident_at"] == "2026-11-20T14:00:00Z"
    sql = next(v for v in data["vms"] if v["vm"] == "sql-01")
    points = sql["backup"]["points"]
    assert points and all(p["time"] < data["incident_at"] for p in points)
    home = [p for p in points if p["region"] == "eastus2"]
    crr = [p for p in points if p["region"] == "centralus"]
    assert home and not any(p["reachable"] for p in home)  # the vault's region is down
    assert crr and all(p["reachable"] and p["tiers"] == ["vault"] and p["cross_region"] for p in crr)
    assert sql["site_recovery"]["target_region"] == "centralus" and sql["site_recovery"]["consistency_group"] == "shop"
    assert len([s for s in sql["snapshots"] if s["region"] == "eastus2"]) == 3 * 4
    golden = next(v for v in data["vms"] if v["vm"] == "web-golden")
    assert golden["images"] == [{"name": "web-golden-image-centralus", "region": "centralus"}]


def test_sim_points_for_one_vm_as_a_table() -> None:
    result = CliRunner().invoke(main, ["sim", "points", DRILL, "--vm", "web-01"])
    assert result.exit_code == 0, result.output
    assert "web-01" in result.output and "sql-01" not in result.output
    assert "Azure Backup points" in result.output and "Site Recovery to centralus" in result.output
    assert "file-system" in result.output  # a running Linux VM gives file-system consistent points


def test_sim_points_at_another_time_and_with_a_calibration() -> None:
    result = CliRunner().invoke(
        main, ["sim", "points", str(DATA / "drill-calibrated.yaml"), "--vm", "sql-01", "--at", "2026-11-19T12:00:00Z", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["catalog"].endswith("+drills-2026-q3") and data["at"] == "2026-11-19T12:00:00Z"
    times = [p["time"] for p in data["vms"][0]["backup"]["points"] if not p["cross_region"]]
    assert all(t.endswith("T02:10:00Z") for t in times)  # the calibration fixed the jitter at 10 min


def test_sim_points_refuses_bad_input_with_exit_code_2(tmp_path: Path) -> None:
    runner = CliRunner()
    unknown = runner.invoke(main, ["sim", "points", DRILL, "--vm", "nope"])
    assert unknown.exit_code == 2 and "no such VM" in unknown.output
    bad_time = runner.invoke(main, ["sim", "points", DRILL, "--at", "yesterday"])
    assert bad_time.exit_code == 2 and "is not a time" in bad_time.output
    missing = runner.invoke(main, ["sim", "points", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 2 and "no such file" in missing.output
    (tmp_path / "cal.yaml").write_text("calibration: x\nbackup: {schedule_jitter: {dist: uniform, low: 1h, high: 0s, source: s}}\n")
    drill = (DATA / "drill-calibrated.yaml").read_text().replace("calibration.yaml", str(tmp_path / "cal.yaml"))
    drill = drill.replace("runbook.yaml", str(DATA / "runbook.yaml")).replace("estate.yaml", str(DATA / "estate.yaml"))
    (tmp_path / "drill.yaml").write_text(drill.replace("plan.yaml", str(DATA / "plan.yaml")))
    calibration = runner.invoke(main, ["sim", "points", str(tmp_path / "drill.yaml")])
    assert calibration.exit_code == 2 and f"{tmp_path / 'cal.yaml'}:2:" in calibration.output
