"""`drsim coverage`: the auditor's packet for a period, through the CLI.

The period below holds two real drills (stood in for by program_kit.as_if_executed: CI cannot reach
Azure) and three simulations, of two applications; the test states, cell by cell, the matrix and the
checklist a reviewer expects of it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from program_kit import as_if_executed, example_documents, run_drill

from drsim.cli import main

NOT = "not drilled"


@pytest.fixture(scope="module")
def period(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two real drills (shop by Site Recovery, payroll by Backup) and three simulations of the shop."""
    docs = example_documents(tmp_path_factory.mktemp("coverage"))
    out = docs / "out"
    shop = run_drill(docs, "2026-q4-shop-asr", out)
    as_if_executed(shop)  # real, passes
    attested = CliRunner().invoke(
        main, ["drill", "attest", str(shop), "--by", "Dana Reyes", "--role", "drill owner", "--verdict", "passed", "--note", "as planned"]
    )
    assert attested.exit_code == 0, attested.output
    as_if_executed(run_drill(docs, "2026-q4-payroll", out))  # real, passes
    for drill in ("2026-q4-shop-backup", "2026-q4-shop-ransomware", "2026-q4-shop-snapshot"):
        run_drill(docs, drill, out)  # simulated
    return docs


def _coverage(docs: Path, out: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main,
        ["coverage", "--period", "2026-Q4", "--store", str(docs / "out" / "history.sqlite"), "--out", str(out), *args],
    )
    return result.exit_code, result.output


def _packet(docs: Path, tmp_path: Path) -> dict[str, Any]:
    code, output = _coverage(docs, tmp_path / "packet", "--estate", str(docs / "drills" / "estates" / "contoso.yaml"))
    assert code == 0, output
    return json.loads((tmp_path / "packet" / "coverage.json").read_text())


def _cells(packet: dict[str, Any]) -> dict[tuple[str, str], dict[str, str]]:
    return {(row["app"], row["mechanism"]): {s: c["state"] for s, c in row["scenarios"].items()} for row in packet["matrix"]}


def test_the_matrix_cell_by_cell(period: Path, tmp_path: Path) -> None:
    packet = _packet(period, tmp_path)
    runs = {run["drill"]: run for run in packet["runs"]}
    assert {d: (r["kind"], r["status"], r["counts_as_operating_evidence"]) for d, r in runs.items()} == {
        "2026-q4-shop-asr": ("executed recovery", "passed", True),
        "2026-q4-payroll": ("executed recovery", "passed", True),
        "2026-q4-shop-backup": ("simulation", "failed", False),
        "2026-q4-shop-ransomware": ("simulation", runs["2026-q4-shop-ransomware"]["status"], False),
        "2026-q4-shop-snapshot": ("simulation", runs["2026-q4-shop-snapshot"]["status"], False),
    }
    assert all(run["evidence"] == "verified" for run in packet["runs"])
    ransomware = "simulated only, " + ("passed" if runs["2026-q4-shop-ransomware"]["apps"][0]["rto_met"] else "failed")
    snapshot_run = runs["2026-q4-shop-snapshot"]
    snapshot_ok = snapshot_run["status"] == "passed"
    snapshot = "simulated only, " + ("passed" if snapshot_ok else "failed")
    assert packet["scenarios"] == ["region-outage", "vm-loss", "disk-failure", "data-corruption", "ransomware", "accidental-delete"]
    expected = {
        ("shop", "Site Recovery"): {"region-outage": "real, passed"},
        ("shop", "Azure Backup"): {"accidental-delete": "simulated only, failed", "ransomware": ransomware},
        ("shop", "disk snapshots"): {snapshot_run["scenario"]: snapshot},
        ("payroll", "Azure Backup"): {"vm-loss": "real, passed"},
    }
    cells = _cells(packet)
    assert set(cells) == set(expected)
    for key, drilled in expected.items():
        for scenario in packet["scenarios"]:
            assert cells[key][scenario] == drilled.get(scenario, NOT), (key, scenario)
    assert [row["critical"] for row in packet["matrix"]] == [False] * 4  # the example estate marks no app critical


def test_the_checklist_line_by_line(period: Path, tmp_path: Path) -> None:
    packet = _packet(period, tmp_path)
    refs = {run["drill"]: run["ref"] for run in packet["runs"]}
    real = sorted([refs["2026-q4-shop-asr"], refs["2026-q4-payroll"]])
    lines = {(line["framework"], line["clause"], line["artifact"]): line for line in packet["checklist"]}

    def status(framework: str, clause: str, artifact: str) -> tuple[str, list[str]]:
        line = lines[(framework, clause, artifact)]
        return line["status"], sorted(line["provided_by"])

    iso = "ISO/IEC 27001:2022"
    # Both applications were recovered for real, against objectives, with intact records.
    assert status(iso, "A.5.30", "each-app") == ("present", real)
    assert status(iso, "A.5.30", "objectives") == ("present", real)
    assert status(iso, "A.5.30", "records") == ("present", real)
    assert status(iso, "A.5.30", "observations")[0] == "present"  # neither real drill failed
    # Backups: payroll's real restore with its canary check.
    assert status(iso, "A.8.13", "backup-restore") == ("present", [refs["2026-q4-payroll"]])
    assert status(iso, "A.8.13", "integrity") == ("present", real)
    # The recovery region: the shop's real Site Recovery test failover met its objectives.
    assert status(iso, "A.8.14", "alternate-region") == ("present", [refs["2026-q4-shop-asr"]])
    # DORA: one severe scenario drilled for real (region outage), the ransomware drill only simulated.
    severe = lines[("DORA RTS 2024/1774", "Art. 25", "severe")]
    assert (severe["status"], severe["provided_by"]) == ("partial", [refs["2026-q4-shop-asr"]])
    assert refs["2026-q4-shop-ransomware"] in severe["note"] or "region-outage" in severe["note"]
    assert status("DORA RTS 2024/1774", "Art. 25", "isolation") == ("present", real)
    # Dana Reyes attested the shop's real drill, nobody the payroll's: participants and sign-off are partial.
    shop = refs["2026-q4-shop-asr"]
    assert status("NIST SP 800-53 / SP 800-84", "CP-4", "participants") == ("partial", [shop])
    assert status("NIST SP 800-53 / SP 800-84", "CP-4", "sign-off") == ("partial", [shop])
    (run,) = [r for r in packet["runs"] if r["ref"] == shop]
    assert run["participants"] == [{"name": "Dana Reyes", "role": "drill owner", "acted": "attested: passed"}]
    for framework, clause in (("PCI DSS v4.0", "12.10.2"), ("HIPAA", "164.308(a)(7)(ii)(D)"), ("SOC 2", "A1.3")):
        assert status(framework, clause, "tested") == ("present", real)


def test_a_period_without_runs_has_every_artifact_missing(period: Path, tmp_path: Path) -> None:
    code, output = _coverage(period, tmp_path / "q3", "--period", "2026-Q3")  # every run was performed in Q4
    assert code == 0, output
    packet = json.loads((tmp_path / "q3" / "coverage.json").read_text())
    assert packet["runs"] == [] and packet["period"]["label"] == "2026-Q3"
    assert {line["status"] for line in packet["checklist"]} == {"missing"}


def test_the_packet_is_sealed_and_verifies(period: Path, tmp_path: Path) -> None:
    out = tmp_path / "packet"
    code, output = _coverage(period, out)
    assert code == 0, output
    assert sorted(p.name for p in out.iterdir()) == ["coverage.html", "coverage.json", "coverage.md", "journal.jsonl", "manifest.json"]
    verified = CliRunner().invoke(main, ["evidence", "verify", str(out)])
    assert verified.exit_code == 0 and "intact" in verified.output, verified.output
    md = out / "coverage.md"
    assert "simulated failed" in md.read_text()
    md.write_text(md.read_text().replace("simulated failed", "real passed"))
    tampered = CliRunner().invoke(main, ["evidence", "verify", str(out)])
    assert tampered.exit_code == 1
    assert "coverage.md: changed" in tampered.output and "coverage.md: not what coverage.json renders to" in tampered.output
    # Made again into the same directory: the packet is replaced whole and verifies again.
    assert _coverage(period, out)[0] == 0
    assert CliRunner().invoke(main, ["evidence", "verify", str(out)]).exit_code == 0


def test_a_run_that_no_longer_verifies_does_not_count(period: Path, tmp_path: Path) -> None:
    docs = example_documents(tmp_path / "docs")
    run_dir = run_drill(docs, "2026-q4-shop-asr", docs / "out")
    as_if_executed(run_dir)
    result = run_dir / "result.json"
    result.write_text(result.read_text().replace('"rto_met": false', '"rto_met": true'))
    (run_dir / "report.md").write_text("edited")
    code, output = _coverage(docs, tmp_path / "packet")
    assert code == 0, output
    packet = json.loads((tmp_path / "packet" / "coverage.json").read_text())
    (run,) = packet["runs"]
    assert run["kind"] == "executed recovery" and not run["counts_as_operating_evidence"]
    assert "report.md: changed" in run["evidence"]
    records = next(line for line in packet["checklist"] if line["artifact"] == "records")
    assert records["status"] == "missing" and "report.md: changed" in records["note"]


def test_the_packet_links_each_run_report(period: Path, tmp_path: Path) -> None:
    out = tmp_path / "packet"
    assert _coverage(period, out)[0] == 0
    packet = json.loads((out / "coverage.json").read_text())
    for run in packet["runs"]:
        assert (out / run["report"]).resolve().is_file()
        assert f"]({run['report']})" in (out / "coverage.md").read_text()
        assert f'href="{run["report"]}"' in (out / "coverage.html").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2026-Q5"], "not a period"),
        (["--period", "2026-12-31..2026-10-01"], "ends before it starts"),
        (["--period", "2026-10-01..soon"], "not a date"),
    ],
)
def test_bad_periods_are_refused(period: Path, tmp_path: Path, args: list[str], message: str) -> None:
    code, output = _coverage(period, tmp_path / "packet", *args)
    assert code == 2 and message in output and "Traceback" not in output
    assert not (tmp_path / "packet").exists()


def test_an_out_directory_holding_other_files_is_refused(period: Path, tmp_path: Path) -> None:
    out = tmp_path / "packet"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, output = _coverage(period, out)
    assert code == 2 and "notes.txt" in output
    assert (out / "notes.txt").read_text() == "mine" and sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_the_findings_of_the_period_with_their_state(period: Path, tmp_path: Path) -> None:
    packet = _packet(period, tmp_path)
    refs = {run["drill"]: run["ref"] for run in packet["runs"]}
    backup = [f for f in packet["findings"] if f["run"] == refs["2026-q4-shop-backup"]]
    missed = [f for f in backup if f["kind"] == "rpo-missed"]
    assert len(missed) == 1 and missed[0]["simulated"] and missed[0]["app"] == "shop"
    assert "before the incident" in missed[0]["reason"]
    assert missed[0]["id"] in (tmp_path / "packet" / "coverage.md").read_text()
    # Findings of simulations are listed but never count towards the real drills' artifacts.
    observations = next(line for line in packet["checklist"] if line["artifact"] == "observations")
    assert missed[0]["id"] not in observations["provided_by"]
