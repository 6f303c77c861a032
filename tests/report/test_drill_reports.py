"""`drsim drill run` through the real engine and simulated world: reports, history, JUnit and a sealed bundle."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner

from drsim.cli import main
from drsim.measure.result import DrillResult
from drsim.report import verify_bundle
from drsim.store import HistoryStore

DRILLS = Path(__file__).resolve().parents[2] / "drills"


def drill_run(tmp_path: Path, drill: str, *extra: str) -> tuple[int, Path]:
    out = tmp_path / "reports"
    outcome = CliRunner().invoke(
        main, ["drill", "run", str(DRILLS / f"{drill}.yaml"), "--out", str(out), "--store", str(out / "history.sqlite"), "--quiet", *extra]
    )
    assert "Traceback" not in outcome.output, outcome.output
    runs = sorted((out / drill).iterdir(), key=lambda p: p.stat().st_mtime_ns)
    return outcome.exit_code, runs[-1]


def test_a_drill_run_leaves_reports_history_junit_and_a_sealed_bundle(tmp_path: Path) -> None:
    code, run_dir = drill_run(tmp_path, "2026-q4-shop-asr", "--junit", str(tmp_path / "junit.xml"))
    result = DrillResult.model_validate_json((run_dir / "result.json").read_text())
    assert code == result.status.exit_code
    assert {p.name for p in run_dir.iterdir()} == {
        "result.json",
        "journal.jsonl",
        "report.md",
        "report.html",
        "timeline.svg",
        "manifest.json",
        "inputs",
    }
    found = verify_bundle(run_dir)
    assert found.intact, found.problems
    md = (run_dir / "report.md").read_text(encoding="utf-8")
    assert f"**Status: {result.status.value.upper()}.**" in md
    for app in result.apps:
        assert f"| {app.app} | RTO |" in md
    for control in (
        "ISO/IEC 27001:2022 A.5.30",
        "SOC 2 (Trust Services Criteria, Availability) A1.3",
        "NIST SP 800-53 Rev. 5 CP-4",
        "NIST SP 800-53 Rev. 5 CP-10",
    ):
        assert f"### {control}:" in md, "the drill's evidence.controls select the controls"
    assert "Not in drsim's control mapping" not in md
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("name") == f"drill {result.drill} (simulation)"
    kinds = [p.get("value") for p in suite.iter("property") if p.get("name") == "kind"]
    assert kinds == ["simulation"], "a simulated run is marked as one wherever it appears"
    assert md.startswith(
        f"# DR drill report: {result.drill}\n\n> **Simulation: this evidences the recovery design, not an executed recovery.**"
    )
    objectives = sum((a.rto_objective_s is not None) + (a.rpo_objective_s is not None) for a in result.apps)
    checks = sum(1 for line in (run_dir / "journal.jsonl").read_text().splitlines() if json.loads(line)["event"] == "check.result")
    assert int(suite.get("tests") or 0) == objectives + checks + 2


def test_history_goes_to_the_output_directory_by_default(tmp_path: Path) -> None:
    out = tmp_path / "elsewhere"
    outcome = CliRunner().invoke(main, ["drill", "run", str(DRILLS / "2026-q4-web-image.yaml"), "--out", str(out), "--quiet"])
    assert outcome.exit_code in (0, 1), outcome.output
    with HistoryStore(out / "history.sqlite", create=False) as store:
        assert [r.drill for r in store.runs()] == ["2026-q4-web-image"]


def test_a_second_run_shows_the_trend(tmp_path: Path) -> None:
    drill_run(tmp_path, "2026-q4-shop-snapshot")
    code, second = drill_run(tmp_path, "2026-q4-shop-snapshot", "--no-report")
    assert code == 1, "fails by design: the striped volume comes back inconsistent"
    assert not (second / "report.md").exists() and verify_bundle(second).intact
    with HistoryStore(tmp_path / "reports" / "history.sqlite") as store:
        runs = store.runs(drill="2026-q4-shop-snapshot")
    assert len(runs) == 2 and runs[0].apps == runs[1].apps, "same seed, same measures"
    CliRunner().invoke(main, ["report", str(second), "--store", str(tmp_path / "reports" / "history.sqlite")])
    md = (second / "report.md").read_text(encoding="utf-8")
    assert f"| {runs[0].run_id} | simulated | 2026-q4-shop-snapshot |" in md and f"| {runs[1].run_id} (this run) |" in md
    assert (second / "trend.svg").exists() and verify_bundle(second).intact
    assert "its disks were captured at different instants" in md, "the striped volume cloned from per-disk snapshots"


def test_drills_sharing_incident_time_and_seed_keep_their_own_history(tmp_path: Path) -> None:
    """The shipped drills share incident time and seed, hence run ids: recording one kept only the other."""
    store = tmp_path / "reports" / "history.sqlite"
    _, asr = drill_run(tmp_path, "2026-q4-shop-asr")
    _, backup = drill_run(tmp_path, "2026-q4-shop-backup")
    assert asr.name == backup.name
    elsewhere = CliRunner().invoke(
        main, ["drill", "run", str(DRILLS / "2026-q4-shop-asr.yaml"), "--out", str(tmp_path / "other"), "--store", str(store), "-q"]
    )
    assert elsewhere.exit_code == 0, elsewhere.output
    assert CliRunner().invoke(main, ["report", str(asr), "--store", str(store)]).exit_code == 0, "re-rendering updates in place"
    listed = CliRunner().invoke(main, ["history", "--store", str(store), "--format", "json"])
    runs = json.loads(listed.output)
    assert [(r["drill"], Path(r["run_dir"]).parts[-3]) for r in runs] == [
        ("2026-q4-shop-asr", "reports"),
        ("2026-q4-shop-backup", "reports"),
        ("2026-q4-shop-asr", "other"),
    ]
    assert {r["run_id"] for r in runs} == {asr.name}
    only_backup = CliRunner().invoke(main, ["history", "--store", str(store), "--drill", "2026-q4-shop-backup", "--format", "csv"])
    assert only_backup.output.count("\n") == 2 and "2026-q4-shop-asr" not in only_backup.output
    # the trend of the run in the other directory: the earlier run of the same id is not "this run"
    md = (tmp_path / "other" / "2026-q4-shop-asr" / asr.name / "report.md").read_text(encoding="utf-8")
    assert f"| {asr.name} | simulated | 2026-q4-shop-asr |" in md and md.count("(this run)") == 1
