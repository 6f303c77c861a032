"""The twin's prediction and calibration, piece by piece: percentiles, spans, the lognormal fit, the
catalog entries operations map to, what calibrate refuses, calibration files in `drsim validate`."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from drsim.cli import main
from drsim.compare.calibrate import catalog_entry, fit_lognormal
from drsim.compare.predict import drill_documents, predict
from drsim.errors import ExecutionError, UsageError
from drsim.measure.events import PredictedSpread, TaskFailed, TaskFinished, TaskStarted
from drsim.measure.twin import hold, percentile, spread, step_spans
from drsim.model.checks import load_drill
from drsim.model.types import Action

DRILLS = Path(__file__).resolve().parents[2] / "drills"
T0 = datetime(2026, 11, 20, 14, tzinfo=UTC)


def test_percentiles_interpolate_between_closest_ranks_like_numpy() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 10.0]
    assert percentile(values, 50) == 3.0
    assert percentile(values, 95) == pytest.approx(8.8)  # numpy.percentile(values, 95)
    assert percentile([7.0], 5) == 7.0
    assert spread("x", []) == PredictedSpread("x", 0, None, None, None)
    assert spread("x", [3.0, 1.0, 2.0]) == PredictedSpread("x", 3, 1.1, 2.0, 2.9)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_step_spans_its_first_start_to_its_last_end_and_only_when_every_task_succeeded() -> None:
    a = Action.BACKUP_RESTORE
    events = [
        TaskStarted(at(0), "db/1", "db", a, "sql-01", 1),
        TaskStarted(at(5), "db/2", "db", a, "app-01", 1),
        TaskFinished(at(100), "db/1", "db", a, "sql-01", 1),
        TaskFinished(at(160), "db/2", "db", a, "app-01", 1),
        TaskStarted(at(10), "web/1", "web", a, "web-01", 1),
        TaskFinished(at(50), "web/1", "web", a, "web-01", 1),
        TaskStarted(at(10), "web/2", "web", a, "web-02", 1),
        TaskFailed(at(60), "web/2", "web", a, "web-02", 1, "no point", "NotFoundError", "recovery", False),  # type: ignore[arg-type]
    ]
    assert step_spans(events) == {"db": 160.0}


def test_a_measure_outside_the_predicted_p5_p95_is_flagged() -> None:
    predicted = (PredictedSpread("shop", 200, 100.0, 150.0, 200.0), PredictedSpread("pay", 200, 10.0, 20.0, 30.0))
    rows = hold(predicted, {"shop": 250.0, "pay": 20.0})
    assert [(r.name, r.outside) for r in rows] == [("shop", True), ("pay", False)]
    (restore,) = hold((PredictedSpread("restore", 600, 100.0, 150.0, 200.0),), {"restore": [90.0, 150.0, 160.0]}, pooled=True)
    assert (restore.measured_s, restore.count, restore.outside_count, restore.outside) == (150.0, 3, 1, False)
    (none,) = hold((PredictedSpread("app", 0, None, None, None),), {"app": 5.0})
    assert none.outside is None


def test_the_lognormal_fit_is_the_maximum_likelihood_one() -> None:
    values = [60.0, 120.0, 240.0]
    mu, sigma = fit_lognormal(values)
    assert math.exp(mu) == pytest.approx(120.0)  # the geometric mean
    assert sigma == pytest.approx(math.sqrt(2 / 3) * math.log(2))  # the 1/n standard deviation of the logs


def test_each_operation_kind_maps_to_the_entry_the_world_draws_it_from() -> None:
    restore, deploy, clone = Action.BACKUP_RESTORE, Action.IMAGE_DEPLOY, Action.SNAPSHOT_CLONE
    assert catalog_entry("create-vm", clone, "windows", None, False) == "compute.vm_create_windows"
    assert catalog_entry("deploy-image", deploy, "linux", None, False) == "compute.vm_create_linux"
    assert catalog_entry("wait-boot", deploy, "linux", None, False) == "compute.boot_generalized_linux"
    assert catalog_entry("wait-boot", restore, "windows", None, False) == "compute.boot_specialized_windows"
    assert catalog_entry("restore", restore, "linux", "snapshot", False) == "backup.restore_snapshot_tier"
    assert catalog_entry("restore", restore, "linux", "vault", False) is None  # a base plus size over throughput
    assert catalog_entry("test-failover", Action.ASR_TEST_FAILOVER, "linux", None, True) is None  # `latest` adds processing
    assert catalog_entry("test-failover", Action.ASR_TEST_FAILOVER, "linux", None, False) == "site_recovery.test_failover"
    assert catalog_entry("snapshot", clone, "linux", None, False) == "snapshots.create"
    assert catalog_entry("find-point", restore, "linux", None, False) is None


def test_a_prediction_is_the_same_for_the_same_seed_and_moves_with_it() -> None:
    documents = drill_documents(load_drill(DRILLS / "2026-q4-web-image.yaml"))
    first = predict(documents, incident_at=T0, trials=8, seed=3)
    assert first == predict(documents, incident_at=T0, trials=8, seed=3)
    assert first.trials == 8 and first.seed == 3 and first.catalog_version == documents.catalog.label
    (app,) = first.apps
    assert app.samples == 8 and app.p5_s is not None and app.p5_s <= app.p50_s <= app.p95_s  # type: ignore[operator]
    assert [s.name for s in first.steps] == [s.id for s in documents.runbook.steps]
    assert predict(documents, incident_at=T0, trials=8, seed=4).apps != first.apps
    with pytest.raises(UsageError):
        predict(documents, incident_at=T0, trials=0)


def test_a_prediction_trial_that_errs_names_the_trial_and_the_way_past_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import drsim.drills

    documents = drill_documents(load_drill(DRILLS / "2026-q4-web-image.yaml"))

    def broken(*args: object, **kwargs: object) -> object:
        raise ExecutionError("the world could not be built")

    monkeypatch.setattr(drsim.drills, "simulate_run", broken)
    with pytest.raises(ExecutionError, match=r"trial 0 \(seed \d+\): the world could not be built .*--predict-trials 0"):
        predict(documents, incident_at=T0, trials=3)


def test_calibrate_learns_from_real_runs_only(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = CliRunner().invoke(main, ["drill", "run", str(DRILLS / "2026-q4-web-image.yaml"), "--out", str(out), "--quiet", "--no-report"])
    assert run.exit_code == 0, run.output
    store = out / "history.sqlite"
    refused = CliRunner().invoke(main, ["calibrate", "--store", str(store), "--out", str(tmp_path / "c.yaml")])
    assert refused.exit_code == 2 and "no real drill run (azure) to calibrate from" in refused.output
    assert not (tmp_path / "c.yaml").exists()
    assert CliRunner().invoke(main, ["calibrate", "--store", str(tmp_path / "none.sqlite"), "--out", "x.yaml"]).exit_code == 2
    bad_day = CliRunner().invoke(main, ["calibrate", "--store", str(store), "--out", "x.yaml", "--since", "yesterday"])
    assert bad_day.exit_code == 2 and "YYYY-MM-DD" in bad_day.output
    assert CliRunner().invoke(main, ["calibrate", "--store", str(store)]).exit_code == 2  # no --out, no --check
    nowhere = CliRunner().invoke(main, ["calibrate", "--store", str(store), "--out", str(tmp_path / "no" / "c.yaml")])
    assert nowhere.exit_code == 2 and "no directory" in nowhere.output
    check = CliRunner().invoke(main, ["calibrate", "--check", "--store", str(store)])
    assert check.exit_code == 2 and "no real drill run (azure) to check the twin against: it lists none" in check.output
    assert "measured RTO against the twin" not in check.output and "┏" not in check.output  # no empty table


def test_validate_checks_a_calibration_file_and_the_one_a_drill_names(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("calibration: q3\ncompute:\n  vm_create_linux: {dist: lognormal, median: 2m, sigma: -1, source: x}\n")
    found = CliRunner().invoke(main, ["validate", str(bad)])
    assert found.exit_code == 2 and f"{bad}:3:" in found.output and "sigma" in found.output
    drill = (DRILLS / "2026-q4-web-image.yaml").read_text()
    for key in ("runbook", "estate", "plan"):
        line = next(x for x in drill.splitlines() if x.startswith(f"{key}:"))
        drill = drill.replace(line, f"{key}: {(DRILLS / line.split(':', 1)[1].strip()).resolve()}")
    named = tmp_path / "drill.yaml"
    named.write_text(drill + "sim: {calibration: bad.yaml}\n")
    refused = CliRunner().invoke(main, ["validate", str(named)])
    assert refused.exit_code == 2 and "sigma" in refused.output


def test_the_emulator_refuses_a_calibration_file_that_is_not_there(tmp_path: Path) -> None:
    run = CliRunner().invoke(
        main, ["emulator", "serve", "--drill", str(DRILLS / "2026-q4-web-image.yaml"), "--calibration", str(tmp_path / "none.yaml")]
    )
    assert run.exit_code == 2 and "--calibration" in run.output and "no such file" in run.output
