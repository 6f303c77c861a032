"""The fast model (drsim.compare.fast) against the engine, its support check, and --model / --validate.

The agreement test is the slow one of this file (the engine's side, on two worker processes): every example
comparison and a generated estate, 300 trials of each candidate through both at the same incident
times; per candidate and measure the medians agree (within 3 %, or within the documented floor or
the engine median's sampling band: drsim.compare.fast_validate) and the Kolmogorov-Smirnov p-value
is above 0.01.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from drsim.cli import main
from drsim.compare import prepare
from drsim.compare.analysis import trials_frame
from drsim.compare.executors import run_local_pool
from drsim.compare.fast_run import ModelChoice, choose, fast_outcomes, fast_run, fast_unsupported, timeout_fallback
from drsim.compare.fast_validate import KS_P_WARN, Agreement, agreements, kolmogorov_pvalue, ks_2samp, median_band
from drsim.compare.generated import write_comparison
from drsim.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "drills").glob("*plans*.yaml"))
STORE = Path(__file__).parent / "data" / "store-plans.yaml"
TRIALS = 300
ENGINE_WORKERS = 2


# ------------------------------------------------------------------------------- the statistics


def test_ks_statistic_and_pvalue() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=300), rng.normal(size=300)
    d, p = ks_2samp(a, b)
    assert d == pytest.approx(0.07)
    assert p == pytest.approx(0.4346, abs=0.02)  # scipy.stats.ks_2samp(a, b, method="asymp") gives 0.4346
    assert ks_2samp(a, a) == (0.0, 1.0)
    d, p = ks_2samp(a, a + 10)
    assert d == 1.0 and p < 1e-12
    # Never-recovered trials (+inf) count as the worst value on both sides; NaN is left out.
    d, _ = ks_2samp([1.0, np.inf, np.nan], [1.0, 2.0])
    assert d == pytest.approx(0.5)
    assert kolmogorov_pvalue(0.0, 10, 10) == 1.0


def test_median_band_holds_the_median() -> None:
    values = np.arange(1.0, 101.0)
    low, high = median_band(values)
    assert low < 50 < high
    assert high - low < 30


def test_agreement_rules() -> None:
    close = Agreement("c", "rto", "app", 300, 50, 1000.0, 1020.0, 0.1, 0.5)
    assert close.agrees  # 2 %
    far = Agreement("c", "rto", "app", 300, 50, 1000.0, 1200.0, 0.1, 0.5)
    assert not far.agrees
    banded = replace(far, engine_low=900.0, engine_high=1300.0)
    assert banded.agrees  # inside the engine median's sampling band
    assert not replace(close, ks_pvalue=KS_P_WARN / 2).agrees
    assert Agreement("c", "rpo", "app", 300, 50, 20.0, 40.0, 0.1, 0.5).agrees  # 20 s apart: under the floor
    assert Agreement("c", "rto", "app", 300, 50, np.inf, np.inf, 0.0, 1.0).agrees  # never recovered on both sides
    assert not Agreement("c", "rto", "app", 300, 50, 1000.0, np.inf, 0.9, 0.0).agrees


# ------------------------------------------------------------------------------- support and auto


def test_example_comparisons_are_supported() -> None:
    for path in [*EXAMPLES, STORE]:
        inputs = prepare(path, trials=5)
        assert fast_unsupported(inputs) == {}, path
        assert choose(inputs, ModelChoice.AUTO) == ("fast", {})


def test_auto_falls_back_to_the_engine_and_names_why(tmp_path: Path) -> None:
    path = write_comparison(tmp_path, 6, trials=4, sizes=(2, 2, 2))
    runbook = tmp_path / "runbook-restore.yaml"
    doc = yaml.safe_load(runbook.read_text())
    doc["steps"] = [s for s in doc["steps"] if not s["action"].startswith("check.")]  # restored disks have no VM to check
    for step in doc["steps"]:
        if step["action"] == "backup.restore":
            step["with"]["as"] = "disks"
    runbook.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    inputs = prepare(path, trials=4)
    used, missing = choose(inputs, ModelChoice.AUTO)
    assert used == "engine"
    assert set(missing) == {"daily-backup", "enhanced-4h"}
    assert any("as: disks" in reason for reason in missing["daily-backup"])
    with pytest.raises(UsageError, match=r"the fast model does not support daily-backup: .*as: disks"):
        choose(inputs, ModelChoice.FAST)
    result = CliRunner().invoke(main, ["compare", str(path), "--out", str(tmp_path / "out"), "--workers", "1"])
    assert result.exit_code in (0, 1), result.output
    assert "model: engine (auto: the fast model does not support daily-backup" in result.output
    assert set(pd.read_csv(tmp_path / "out" / "comparison.csv")["model"]) == {"engine"}
    refused = CliRunner().invoke(main, ["compare", str(path), "--model", "fast", "--quiet"])
    assert refused.exit_code == 2 and "as: disks" in refused.output


def test_auto_hands_steps_that_time_out_under_the_concurrency_limit_to_the_engine(tmp_path: Path) -> None:
    """60 restores on 50 slots with a 20-minute timeout: queued tasks time out (where the fast model's
    slot order is too coarse to decide who does), so auto names the candidates for the engine."""
    path = write_comparison(tmp_path, 60, trials=10)
    runbook = tmp_path / "runbook-restore.yaml"
    doc = yaml.safe_load(runbook.read_text())
    for step in doc["steps"]:
        if step["action"] == "backup.restore":
            step["timeout"] = "20m"
    runbook.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    _, timed_out = fast_run(prepare(path, trials=10))
    assert timed_out["daily-backup"] > 0.5 and timed_out["asr"] == 0.0
    fallback = timeout_fallback(timed_out)
    assert set(fallback) == {"daily-backup", "enhanced-4h"}
    assert "times out" in fallback["daily-backup"][0]


# ------------------------------------------------------------------------------- the CLI


def test_cli_fast_model_writes_its_validation(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["compare", str(STORE), "--trials", "40", "--validate", "4", "--workers", "1", "--out", str(out), "--model", "fast"]
    )
    assert result.exit_code in (0, 1), result.output
    assert "model: fast (asked), checked against 4 engine trials per candidate" in result.output
    assert set(pd.read_csv(out / "comparison.csv")["model"]) == {"fast"}
    validation = pd.read_csv(out / "validation.csv")
    assert set(validation["candidate"]) == {"daily", "enhanced-4h", "asr", "daily-crr"}
    assert set(validation["measure"]) == {"rto", "rpo", "cost"}
    assert (validation["engine_trials"] == 4).all() and (validation["fast_trials"] == 4).all()  # the same incidents
    engine = pd.read_csv(out / "validation-trials.csv.gz")
    assert sorted(engine["trial"].unique()) == [0, 1, 2, 3] and set(engine["model"]) == {"engine"}
    report = (out / "report.md").read_text()
    assert "## Model" in report and "Kolmogorov-Smirnov" in report
    assert 'id="model"' in (out / "report.html").read_text()
    # The same documents and seed give the same bytes.
    again = CliRunner().invoke(
        main,
        ["compare", str(STORE), "--trials", "40", "--validate", "4", "--workers", "1", "--out", str(tmp_path / "b"), "--model", "fast"],
    )
    assert again.exit_code == result.exit_code
    for name in ("comparison.csv", "trials.csv.gz", "validation.csv", "report.md"):
        assert (out / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    # An engine comparison into the same directory drops the fast model's validation files.
    engine_run = CliRunner().invoke(
        main, ["compare", str(STORE), "--trials", "3", "--workers", "1", "--out", str(out), "--model", "engine"]
    )
    assert engine_run.exit_code in (0, 1), engine_run.output
    assert not (out / "validation.csv").exists()
    assert "model: engine" in engine_run.output


# ------------------------------------------------------------------------------- agreement


def _agreement(path: Path) -> list[Agreement]:
    inputs = prepare(path, trials=TRIALS)
    names = [c.name for c in inputs.candidates]
    fast = trials_frame(fast_outcomes(inputs), names)
    # The engine's trials on two worker processes, as `drsim compare --workers 2` runs them: the same
    # trials (each trial's incident comes from the seed and its number), sorted into the same frame.
    engine = trials_frame(list(run_local_pool(inputs, ENGINE_WORKERS)), names)
    return agreements(fast, engine, names)


@pytest.mark.parametrize("source", [*(p.name for p in EXAMPLES), "generated-8"])
def test_fast_model_agrees_with_the_engine(source: str, tmp_path: Path) -> None:
    generated = source == "generated-8"
    path = write_comparison(tmp_path, 8, trials=TRIALS, sizes=(3, 3, 2)) if generated else ROOT / "drills" / source
    found = _agreement(path)
    assert found
    bad = [a.describe() for a in found if not a.agrees]
    assert not bad, "\n".join(bad)
    for a in found:
        assert a.engine_trials == a.fast_trials == TRIALS
        assert np.isnan(a.ks_pvalue) or a.ks_pvalue > 0.01, a.describe()
