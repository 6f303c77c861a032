"""End to end through the engine: frame shape, determinism across workers and executors, outputs, CLI."""

from __future__ import annotations

import gzip
import os
import signal
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from drsim.cli import main
from drsim.compare import ExecutorKind, prepare, run_comparison, write_outputs
from drsim.compare.analysis import TRIAL_COLUMNS

COMPARISON = Path(__file__).parent / "data" / "store-plans.yaml"
TRIALS = 6


@pytest.fixture(scope="module")
def inputs():
    return prepare(COMPARISON, trials=TRIALS)


@pytest.fixture(scope="module")
def in_process(inputs):
    return run_comparison(inputs, workers=1)


def test_the_trial_frame_has_one_row_per_candidate_trial_and_app(in_process) -> None:
    trials = in_process.trials
    assert list(trials.columns) == TRIAL_COLUMNS
    assert len(trials) == 4 * TRIALS  # one app
    names = ["daily", "enhanced-4h", "asr", "daily-crr"]
    assert trials.groupby("candidate", sort=False).size().to_dict() == dict.fromkeys(names, TRIALS)
    # Paired design: every candidate meets the same incident in the same trial.
    assert (trials.groupby("trial")["incident_at"].nunique() == 1).all()
    assert trials["incident_at"].between(pd.Timestamp("2026-10-02T00:00:00Z"), pd.Timestamp("2026-11-01T00:00:00Z"), inclusive="left").all()
    assert (trials["drill_cost"] > 0).all()
    assert trials["rto_s"].notna().all()


def test_two_workers_give_the_same_frames_as_one(inputs, in_process) -> None:
    pooled = run_comparison(inputs, workers=2)
    pd.testing.assert_frame_equal(pooled.trials, in_process.trials)
    pd.testing.assert_frame_equal(pooled.summary, in_process.summary)
    pd.testing.assert_frame_equal(pooled.ranking, in_process.ranking)


def test_dask_gives_the_same_frames_as_local(inputs, in_process) -> None:
    import distributed

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        on_dask = run_comparison(inputs, executor=ExecutorKind.DASK, scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(on_dask.trials, in_process.trials)
    pd.testing.assert_frame_equal(on_dask.summary, in_process.summary)


def test_outputs_repeat_byte_for_byte(in_process, tmp_path: Path) -> None:
    first = write_outputs(in_process, tmp_path / "a")
    before = {p: p.read_bytes() for p in first}
    second = write_outputs(in_process, tmp_path / "a")
    assert [p.relative_to(tmp_path / "a").as_posix() for p in first] == [
        "comparison.csv",
        "failures.csv",
        "trials.csv.gz",
        "comparison.json",
        "ecdf-rto.svg",
        "ecdf-rpo.svg",
        "cost-vs-p95.svg",
        "report.md",
        "report.html",
        "replay/estate.yaml",
        *(f"replay/{name}/{doc}.yaml" for name in ("daily", "enhanced-4h", "asr", "daily-crr") for doc in ("plan", "runbook", "drill")),
    ]
    assert second == first
    for path in second:
        assert path.read_bytes() == before[path], path.name
    text = gzip.decompress((tmp_path / "a" / "trials.csv.gz").read_bytes()).decode()
    assert text.splitlines()[0] == ",".join([*TRIAL_COLUMNS, "model", "window_end"])  # the model that ran the trials (engine here)
    assert len(text.splitlines()) == 1 + 4 * TRIALS
    summary = pd.read_csv(tmp_path / "a" / "comparison.csv")
    assert summary["candidate"].tolist() == in_process.ranking["candidate"].tolist()
    assert set(summary["window_end"]) == {"2026-11-01T00:00:00Z"}


def test_cli_writes_the_out_dir_and_prints_the_ranking(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["compare", str(COMPARISON), "--trials", "3", "--workers", "1", "--out", str(out)]
    result = CliRunner().invoke(main, args, env={"COLUMNS": "200"})  # wide enough for the table (narrower: a block per candidate)
    assert result.exit_code in (0, 1), result.output
    assert result.output.splitlines()[0].split()[:4] == ["rank", "candidate", "all", "met"]
    assert {p.name for p in out.iterdir()} >= {"comparison.csv", "trials.csv.gz", "report.md", "report.html"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "asr.plan.rules[0].site_recovery.app_consistent_every=10m"], "app_consistent_every=10m: the changed plan"),
        (["--set", "nobody.plan.rules[0].x=1"], "unknown candidate 'nobody'"),
        (["--executor", "dask"], "--executor dask needs --scheduler"),
        (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler applies only to --executor dask"),
        (["--trials", "0"], "Invalid value for '--trials'"),
        (["--window-end", "tomorrow"], "--window-end 'tomorrow' is not a time"),
        (["--window-end", "2026-11-01T00:00:00"], "--window-end '2026-11-01T00:00:00' has no time zone"),
        (["--window-end", "1970-01-10T00:00:00Z"], "incident window ending 1970-01-10T00:00:00+00:00 starts too early"),
    ],
)
def test_cli_refuses_bad_input_with_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["compare", str(COMPARISON), "--quiet", "--out", str(tmp_path), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_cli_reports_a_bad_document_with_its_location(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        COMPARISON.read_text()
        .replace("trials: 20", "trials: lots")
        .replace("estate: estate.yaml", f"estate: {COMPARISON.parent / 'estate.yaml'}")
        .replace("plans/", f"{COMPARISON.parent}/plans/")
        .replace("runbooks/", f"{COMPARISON.parent}/runbooks/")
    )
    result = CliRunner().invoke(main, ["compare", str(bad), "--quiet"])
    assert result.exit_code == 2
    assert f"{bad}:" in result.output and "trials" in result.output


def test_without_window_end_the_window_ends_today_at_midnight_utc(tmp_path: Path) -> None:
    from datetime import UTC, date, datetime

    data = COMPARISON.parent
    text = COMPARISON.read_text().replace("window_end: 2026-11-01T00:00:00Z\n", "")
    text = text.replace("estate: estate.yaml", f"estate: {data / 'estate.yaml'}").replace("plans/", f"{data}/plans/")
    (tmp_path / "c.yaml").write_text(text.replace("runbooks/", f"{data}/runbooks/"))
    inputs = prepare(tmp_path / "c.yaml", today=date(2026, 12, 2))
    assert inputs.window_end_defaulted and inputs.window_end == datetime(2026, 12, 2, tzinfo=UTC)
    given = prepare(tmp_path / "c.yaml", today=date(2026, 12, 2), window_end=datetime(2026, 6, 1, tzinfo=UTC))
    assert not given.window_end_defaulted and given.window_end == datetime(2026, 6, 1, tzinfo=UTC)
    assert not prepare(COMPARISON).window_end_defaulted
    assert prepare(tmp_path / "c.yaml").window_end == datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def test_a_failing_drill_names_its_candidate_and_trial(inputs, monkeypatch: pytest.MonkeyPatch) -> None:
    import drsim.drills
    from drsim.compare.trials import run_trial, trial_specs, worker_documents
    from drsim.errors import ExecutionError, QuotaError

    def refuse(*args: object, **kwargs: object) -> None:
        raise QuotaError("10 restores per VM a day")

    monkeypatch.setattr(drsim.drills, "simulate_run", refuse)
    documents = worker_documents(inputs)
    spec = trial_specs(inputs, [4])[0]
    with pytest.raises(ExecutionError, match=rf"candidate daily, trial 4 \(incident at .*Z, seed {spec.seed}\): 10 restores per VM a day"):
        run_trial(documents.estate, documents.candidates[0], spec)


def test_ctrl_c_keeps_the_trials_every_candidate_finished_marked_partial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C after some trials: the trials every candidate finished are written (ranked on those only)
    beside PARTIAL.md, exit 3; a trial only some candidates finished is left out; a whole run removes the mark."""
    import drsim.compare.executors as executors

    whole = executors.run_in_process

    def interrupted(inputs, progress=None):  # type: ignore[no-untyped-def]
        outcomes = list(whole(inputs, progress))
        candidates = len(inputs.candidates)
        yield from outcomes[: 4 * candidates + 1]  # four whole trials, and one candidate of a fifth
        raise KeyboardInterrupt

    monkeypatch.setattr(executors, "run_in_process", interrupted)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["compare", str(COMPARISON), "--trials", "8", "--workers", "1", "--out", str(out), "--quiet", "--model", "engine"]
    )
    assert result.exit_code == 3, result.output
    assert "4 of 8 trials finished for every candidate" in result.output
    assert "Traceback" not in result.output
    assert "Partial comparison" in (out / "PARTIAL.md").read_text()
    trials = pd.read_csv(out / "trials.csv.gz")
    assert sorted(trials["trial"].unique()) == [0, 1, 2, 3]
    summary = pd.read_csv(out / "comparison.csv")
    assert set(summary["trials"]) == {4}
    monkeypatch.setattr(executors, "run_in_process", whole)
    again = CliRunner().invoke(
        main, ["compare", str(COMPARISON), "--trials", "8", "--workers", "1", "--out", str(out), "--quiet", "--model", "engine"]
    )
    assert again.exit_code == 0, again.output
    assert not (out / "PARTIAL.md").exists()


@pytest.mark.parametrize(("model", "stopped"), [("engine", "after 1 of 3 trials"), ("fast", "while the engine checked the fast model")])
def test_partial_md_names_sigterm_when_sigterm_stopped_the_comparison(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str, stopped: str
) -> None:
    """PARTIAL.md said "Interrupted (Ctrl-C)" whatever stopped the comparison; a SIGTERM (a CI timeout,
    `kill`) is named as such, during the trials and during the fast model's validation."""
    import drsim.compare.executors as executors

    whole = executors.run_in_process

    def terminated(inputs, progress=None):  # type: ignore[no-untyped-def]
        outcomes = list(whole(inputs, progress))
        yield from outcomes[: len(inputs.candidates)]  # one whole trial
        os.kill(os.getpid(), signal.SIGTERM)  # runner.terminate_as_interrupt turns it into KeyboardInterrupt
        yield from outcomes[len(inputs.candidates) :]

    monkeypatch.setattr(executors, "run_in_process", terminated)
    out = tmp_path / "out"
    args = ["compare", str(COMPARISON), "--trials", "3", "--workers", "1", "--out", str(out), "--quiet", "--model", model]
    result = CliRunner().invoke(main, [*args, "--validate", "3"] if model == "fast" else args)
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    note = (out / "PARTIAL.md").read_text()
    assert f"Interrupted (SIGTERM) {stopped}" in note, note
