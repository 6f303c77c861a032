"""Like for like: a Comparison states the scenario and objectives once, or candidates that differ are refused (exit 2)
unless `mixed: true`, and then every table and chart says what each candidate faced. Through the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
from click.testing import CliRunner
from comparisons import DATA, comparison

from drsim.cli import main

DIFFERENT = [("daily", "daily.yaml", "restore.yaml"), ("asr", "asr.yaml", "asr-failover.yaml")]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_candidates_facing_different_incidents_and_objectives_are_refused_naming_each(tmp_path: Path) -> None:
    path = comparison(tmp_path, DIFFERENT)
    code, output = run("compare", str(path), "--quiet", "--workers", "1", "--out", str(tmp_path / "out"))
    assert code == 2, output
    assert f"{path}:5:1: the candidates face different incidents and objectives" in output
    assert "daily: incident accidental-delete of VMs {app: store}; objectives store RTO 4h 00m RPO 6h 00m" in output
    assert "asr: incident region-outage of eastus2; objectives store RTO 2h 00m RPO 15m 00s" in output
    assert "state scenario: and objectives: in the Comparison" in output and "mixed: true" in output
    assert not (tmp_path / "out").exists()
    code, output = run("validate", str(path))  # validate says the same, before anything runs
    assert code == 2 and "would not compare like for like" in output


def test_only_what_differs_is_named(tmp_path: Path) -> None:
    path = comparison(tmp_path, DIFFERENT, "scenario: {incident: accidental-delete, vms: {app: store}}\n")
    code, output = run("compare", str(path), "--quiet", "--workers", "1", "--out", str(tmp_path / "out"))
    assert code == 2
    assert "the candidates face different objectives, so" in output
    assert "state objectives: in the Comparison" in output
    assert "daily: incident accidental-delete of VMs {app: store}" in output
    assert "asr: incident accidental-delete of VMs {app: store}" in output  # the stated scenario, not the runbook's


def test_a_stated_scenario_and_objectives_judge_every_candidate_whatever_its_runbook_says(tmp_path: Path) -> None:
    # A region outage for both: the daily backup's runbook restores into eastus2, which is down; the
    # asr runbook fails over to centralus. Objectives: the comparison's (RTO 1m cannot be met), not the runbooks'.
    stated = "scenario: {incident: region-outage, region: eastus2}\nobjectives:\n  - {app: store, rto: 1m, rpo: 1h}\n"
    path = comparison(tmp_path, DIFFERENT, stated)
    out = tmp_path / "out"
    code, output = run("compare", str(path), "--workers", "1", "--out", str(out))
    assert code == 1, output  # nobody meets a 1-minute RTO
    assert "like for like: scenario and objectives stated by the Comparison" in " ".join(output.split())  # the line wraps to the terminal
    trials = pd.read_csv(out / "trials.csv.gz")
    assert not trials["rto_met"].any()
    asr = trials[trials["candidate"] == "asr"]
    assert asr["rto_s"].notna().all() and asr["rpo_met"].all()  # recovered, its RPO within the comparison's 1h
    assert trials.loc[trials["candidate"] == "daily", "rto_s"].isna().all()  # eastus2 is down for the daily backup too
    failures = pd.read_csv(out / "failures.csv")
    daily = failures[failures["candidate"] == "daily"].iloc[0]
    assert (daily["step"], daily["operation"], daily["error_kind"], daily["trials"]) == ("bubble", "network.isolate", "NotFoundError", 3)
    assert "region eastus2 is down" in daily["example_error"]
    summary = pd.read_csv(out / "comparison.csv")
    assert set(summary["incident"]) == {"region-outage of eastus2"} and set(summary["objectives"]) == {"store RTO 1m 00s RPO 1h 00m"}
    report = (out / "report.md").read_text()
    faced = "every candidate faces region-outage of eastus2 and is judged against the objectives store RTO 1m 00s RPO 1h 00m"
    assert f"Like for like: {faced}" in report
    runbook = (out / "replay" / "daily" / "runbook.yaml").read_text()
    assert "incident: region-outage" in runbook and "rto: 1m" in runbook  # what the trials ran


def test_a_what_if_on_a_stated_key_is_refused(tmp_path: Path) -> None:
    path = comparison(tmp_path, DIFFERENT, "objectives:\n  - {app: store, rto: 4h, rpo: 6h}\nmixed: true\n")
    code, output = run("compare", str(path), "--quiet", "--out", str(tmp_path / "o"), "--set", "asr.runbook.objectives[0].rpo=1h")
    assert code == 2
    assert "--set asr.runbook.objectives[0].rpo=1h: the Comparison states objectives: for every candidate" in output


def test_a_what_if_that_makes_candidates_differ_is_refused(tmp_path: Path) -> None:
    same = [("daily", "daily.yaml", "restore.yaml"), ("enhanced", "enhanced-4h.yaml", "restore.yaml")]
    path = comparison(tmp_path, same)
    code, output = run("compare", str(path), "--quiet", "--out", str(tmp_path / "o"), "--set", "enhanced.runbook.objectives[0].rpo=1h")
    assert code == 2
    assert "enhanced: incident accidental-delete of VMs {app: store}; objectives store RTO 4h 00m RPO 1h 00m" in output


def test_mixed_and_both_stated_is_a_document_error(tmp_path: Path) -> None:
    stated = "scenario: {incident: vm-loss, vms: {app: store}}\nobjectives:\n  - {app: store, rto: 4h}\nmixed: true\n"
    code, output = run("validate", str(comparison(tmp_path, DIFFERENT, stated)))
    assert code == 2 and "mixed: true has no effect when scenario and objectives are both stated" in output
    assert "mixed: mixed:" not in output  # the key is named once


def test_stated_scenario_and_objectives_are_checked_against_the_estate(tmp_path: Path) -> None:
    stated = "scenario: {incident: vm-loss, vms: {app: nothing}}\nobjectives:\n  - {app: nothing, rto: 4h}\n  - {app: nothing, rpo: 1h}\n"
    code, output = run("validate", str(comparison(tmp_path, DIFFERENT, stated)))
    assert code == 2
    assert "selector {app: nothing} matches no VM in estate" in output
    assert "unknown app 'nothing'" in output and "duplicate objective for app 'nothing'" in output


def test_a_mixed_comparison_labels_every_table_and_chart_with_what_each_candidate_faced(tmp_path: Path) -> None:
    """Objectives read as every duration of drsim's outputs does (drsim.times.duration, exact): `RPO 1d 02h`,
    never the document's `1d2h`, in the terminal, both reports, the charts, the CSV and the JSON."""
    restore = (DATA / "runbooks" / "restore.yaml").read_text()
    assert "{app: store, rto: 4h, rpo: 6h}" in restore
    (tmp_path / "restore-26h.yaml").write_text(restore.replace("rpo: 6h}", "rpo: 26h}"), encoding="utf-8")
    candidates = [("daily", "daily.yaml", str(tmp_path / "restore-26h.yaml")), DIFFERENT[1]]
    out = tmp_path / "out"
    code, output = run("compare", str(comparison(tmp_path, candidates, "mixed: true\n")), "--workers", "1", "--out", str(out))
    assert code in (0, 1), output
    daily = "accidental-delete of VMs {app: store}"
    asr = "region-outage of eastus2"
    daily_objectives, asr_objectives = "store RTO 4h 00m RPO 1d 02h", "store RTO 2h 00m RPO 15m 00s"
    terminal = " ".join(output.split())  # lines wrap to the terminal
    assert "mixed: the candidates face different incidents or objectives" in terminal
    assert daily in output and asr in output  # the terminal's ranking table
    assert daily_objectives in terminal and asr_objectives in terminal
    summary = pd.read_csv(out / "comparison.csv").set_index("candidate")
    assert summary.loc["daily", "incident"] == daily and summary.loc["asr", "objectives"] == asr_objectives
    assert summary.loc["daily", "objectives"] == daily_objectives
    report = (out / "report.md").read_text()
    assert "**Mixed comparison:**" in report
    ranking = next(line for line in report.splitlines() if line.startswith("| ") and "| asr |" in line and "USD" in line)
    assert "region-outage of eastus2" in ranking and asr_objectives in ranking
    per_app = [line for line in report.splitlines() if line.startswith(f"| asr: region-outage of eastus2; {asr_objectives} | store |")]
    assert len(per_app) == 1
    assert "| daily | accidental-delete of VMs \\{app: store\\} | store RTO 4h 00m RPO 1d 02h |" in report  # what each faced
    html = (out / "report.html").read_text()
    assert "Mixed comparison:" in html and "<td>region-outage of eastus2</td>" in html and f"<td>{daily_objectives}</td>" in html
    for chart in ("ecdf-rto.svg", "ecdf-rpo.svg", "cost-vs-p95.svg"):
        svg = (out / chart).read_text()
        assert f"asr: region-outage of eastus2; {asr_objectives}" in svg, chart
        assert f"daily: accidental-delete of VMs {{app: store}}; {daily_objectives}" in svg, chart
    for text in (terminal, report, html, (out / "comparison.csv").read_text()):
        assert not re.search(r"(RTO|RPO) (\d+[dhms])+(?! \d)", text), "an objective as the document writes it (1d2h, 15m)"
    document = json.loads((out / "comparison.json").read_text())
    assert document["mixed"] is True
    assert {r["candidate"]: r["incident"] for r in document["ranking"]} == {"daily": daily, "asr": asr}
    assert {r["candidate"]: r["objectives"] for r in document["ranking"]} == {"daily": daily_objectives, "asr": asr_objectives}
