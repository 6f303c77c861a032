"""Why trials fail: causes grouped and counted per candidate in failures.csv and the reports, each with an
example trial whose `drsim drill run` command line replays it exactly. Through the CLI."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from comparisons import comparison

from drsim.cli import main
from drsim.compare.failures import FAILURE_COLUMNS

CANDIDATES = [("daily", "daily.yaml", "restore.yaml"), ("asr", "asr.yaml", "asr-failover.yaml")]
# A region outage: the daily backup's runbook restores into the lost region; Site Recovery fails over.
# An RPO of 5 minutes: Site Recovery's latest processed point is sometimes older.
STATED = "scenario: {incident: region-outage, region: eastus2}\nobjectives:\n  - {app: store, rto: 4h, rpo: 5m}\n"
TRIALS = 6


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("failures")
    target = root / "out"
    result = CliRunner().invoke(
        main, ["compare", str(comparison(root, CANDIDATES, STATED)), "--trials", str(TRIALS), "--workers", "1", "--out", str(target), "-q"]
    )
    assert result.exit_code == 1, result.output
    return target


def test_failures_csv_groups_and_counts_the_causes_per_candidate(out: Path) -> None:
    failures = pd.read_csv(out / "failures.csv", keep_default_na=False)
    assert list(failures.columns) == [*FAILURE_COLUMNS, "window_end"]
    daily = failures[failures["candidate"] == "daily"]
    assert len(daily) == 1  # one cause, counted once per trial
    row = daily.iloc[0]
    assert (row["step"], row["operation"], row["error_kind"], row["category"]) == ("bubble", "network.isolate", "NotFoundError", "recovery")
    assert (row["trials"], row["share"], row["failed_trials"], row["example_trial"]) == (TRIALS, 1.0, TRIALS, 0)
    trials = pd.read_csv(out / "trials.csv.gz")
    asr_missed = trials[(trials["candidate"] == "asr") & ~trials["rpo_met"]]
    asr = failures[failures["candidate"] == "asr"]
    if len(asr_missed):  # a measured RPO over 5 minutes is its cause, not a failed step
        row = asr.iloc[0]
        assert (row["step"], row["operation"], row["error_kind"], row["category"]) == ("", "objective of store", "rpo-missed", "objective")
        assert row["trials"] == len(asr_missed) and row["example_trial"] == asr_missed["trial"].min()
        assert row["example_error"].startswith("store: measured RPO ") and row["example_error"].endswith("over the objective 5m 00s")
    else:
        assert asr.empty
    assert set(failures["window_end"]) == {"2026-11-01T00:00:00Z"}


def test_the_reports_show_the_causes_with_their_replay(out: Path) -> None:
    failures = pd.read_csv(out / "failures.csv", keep_default_na=False)
    replay = failures.loc[failures["candidate"] == "daily", "replay"].iloc[0]
    markdown = (out / "report.md").read_text()
    assert "## Why trials failed" in markdown
    assert "| daily | bubble | network.isolate | NotFoundError | 6 | 100.0 % | 0 |" in markdown
    assert "drsim drill run " in markdown and "--incident-at" in markdown
    html = (out / "report.html").read_text()
    assert '<section id="failures">' in html and f"<code>{replay}</code>" in html


def _replay(command: str, runs: Path) -> dict[str, object]:
    args = shlex.split(command)
    assert args[:3] == ["drsim", "drill", "run"]
    result = CliRunner().invoke(main, [*args[1:], "--out", str(runs), "--quiet", "--no-report"])
    assert result.exit_code in (0, 1), result.output
    (found,) = runs.glob("*/*/result.json")
    return json.loads(found.read_text())


@pytest.mark.parametrize("candidate", ["daily", "asr"])
def test_the_replay_command_reproduces_the_trial(out: Path, tmp_path: Path, candidate: str) -> None:
    """The command line failures.csv gives runs the same drill as the comparison's trial: same status, RTO, RPO."""
    trials = pd.read_csv(out / "trials.csv.gz", keep_default_na=False, dtype=str)
    trials["trial"] = trials["trial"].astype(int)
    failures = pd.read_csv(out / "failures.csv", keep_default_na=False)
    mine = failures[failures["candidate"] == candidate]
    assert len(mine), f"{candidate} failed no trial: nothing to replay"
    command, trial = mine.iloc[0]["replay"], int(mine.iloc[0]["example_trial"])
    result = _replay(command, tmp_path / "runs")
    row = trials[(trials["candidate"] == candidate) & (trials["trial"] == trial)].iloc[0]
    assert result["drill"] == candidate and result["incident_at"] == row["incident_at"]
    (app,) = result["apps"]  # type: ignore[misc]
    assert app["app"] == row["app"]
    assert app["rto_s"] == (None if row["rto_s"] == "" else float(row["rto_s"]))
    assert app["rpo_s"] == (None if row["rpo_s"] == "" else float(row["rpo_s"]))
    assert app["rto_met"] == (row["rto_met"] == "True") and app["rpo_met"] == (row["rpo_met"] == "True")
    assert result["status"] == "failed"  # recovery failed or an objective missed: the drill ran (exit 1)
