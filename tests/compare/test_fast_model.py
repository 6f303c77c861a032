"""The fast model (drsim.compare.fast) against the engine, its support check, and --model / --validate.

The agreement test is the slow one of this file (the engine's side, on a pool of 2 worker processes):
every example comparison (drills/*plans*.yaml, tests/compare/data/store-plans.yaml) and two generated
estates, 300 trials of each candidate through both at the same incident times (the same seeds: the
fast model's recovery points, durations and capacity failures are the engine world's own draws,
tests/compare/test_fast_crn.py). It holds every measure to the issue's rule, stated here
(ISSUE_MEDIAN, ISSUE_KS_P): per candidate and measure (RTO and RPO of each app, the drill's cost) the
medians within 3 % and the Kolmogorov-Smirnov p-value above 0.01, without the floor the CLI's warning
rule adds for differences below a minute or a cent (drsim.compare.fast_validate.Agreement.agrees).
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
from drsim.compare import prepare, run_comparison
from drsim.compare.analysis import trials_frame
from drsim.compare.executors import run_in_process, run_local_pool
from drsim.compare.fast_run import ModelChoice, choose, fast_outcomes, fast_run, fast_unsupported
from drsim.compare.fast_validate import KS_P_WARN, Agreement, agreements, kolmogorov_pvalue, ks_2samp, median_band, pvalue_text
from drsim.compare.generated import write_comparison
from drsim.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "drills").glob("*plans*.yaml"))
STORE = Path(__file__).parent / "data" / "store-plans.yaml"
TRIALS = 300
ISSUE_MEDIAN = 0.03
"""Issue 17: the fast model's median of every measure within 3 % of the engine's ..."""
ISSUE_KS_P = 0.01
"""... and the two-sample Kolmogorov-Smirnov p-value above 0.01, on 300 trials."""


def meets_the_issue_rule(a: Agreement) -> bool:
    """Medians within 3 % and KS p > 0.01 (nothing measured on either side: nothing to hold)."""
    if np.isnan(a.ks_pvalue):
        return True
    return a.median_rel_diff <= ISSUE_MEDIAN and a.ks_pvalue > ISSUE_KS_P


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


def test_a_pvalue_reads_as_1_only_when_it_is_1() -> None:
    assert (pvalue_text(0.9999), pvalue_text(1.0), pvalue_text(0.01234), pvalue_text(3.2e-8)) == ("> 0.999", "1", "0.0123", "3.2e-08")
    close = Agreement("c", "rto", "app", 300, 300, 1000.0, 1001.0, 0.01, 0.99996)
    assert close.describe().endswith("KS 0.010 (p > 0.999)")
    assert replace(close, ks_pvalue=0.42).describe().endswith("(p = 0.42)")


def test_agreement_rules() -> None:
    close = Agreement("c", "rto", "app", 300, 50, 1000.0, 1020.0, 0.1, 0.5)
    assert close.agrees  # 2 %
    far = Agreement("c", "rto", "app", 300, 50, 1000.0, 1200.0, 0.1, 0.5)
    assert not far.agrees
    banded = replace(far, engine_low=900.0, engine_high=1300.0)
    assert not banded.agrees  # the band is information: the same trials and draws on both sides, no sampling noise
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


def test_auto_runs_the_engine_where_a_manual_step_times_out(tmp_path: Path) -> None:
    # The fast model takes a manual step as its duration; the engine times it out (StepTimeout) and
    # retries it: a declaration longer than its timeout is the engine's to run.
    path = write_comparison(tmp_path, 6, trials=4, sizes=(2, 2, 2))
    runbook = tmp_path / "runbook-restore.yaml"
    doc = yaml.safe_load(runbook.read_text())
    declare = next(s for s in doc["steps"] if s["action"] == "manual.declare")
    declare["with"]["duration"] = "45m"
    declare["timeout"] = "30m"
    runbook.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    inputs = prepare(path, trials=4)
    used, missing = choose(inputs, ModelChoice.AUTO)
    assert used == "engine"
    assert set(missing) == {"daily-backup", "enhanced-4h"}
    assert f"step '{declare['id']}': its duration 45m 00s reaches its timeout 30m 00s (a step that times out)" in missing["daily-backup"]
    declare["timeout"] = "46m"  # within its timeout: the fast model's
    runbook.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    assert choose(prepare(path, trials=4), ModelChoice.AUTO) == ("fast", {})


def _bound(tmp_path: Path, vms: int, trials: int, runbook: str, candidate: str, **changes: str) -> Path:
    """A generated comparison of one candidate whose runbook's recovery steps get `timeout` and whose
    declaration takes `declare` (which delays every recovery step)."""
    path = write_comparison(tmp_path, vms, trials=trials)
    file = tmp_path / f"runbook-{runbook}.yaml"
    doc = yaml.safe_load(file.read_text())
    for step in doc["steps"]:
        if "timeout" in changes and step["action"] in ("backup.restore", "asr.test_failover"):
            step["timeout"] = changes["timeout"]
        if "declare" in changes and step["action"] == "manual.declare":
            step["with"]["duration"] = changes["declare"]
    file.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    comparison = yaml.safe_load(path.read_text())
    comparison["candidates"] = [c for c in comparison["candidates"] if c["name"] == candidate]
    path.write_text(yaml.safe_dump(comparison, sort_keys=False), encoding="utf-8")
    return path


def test_auto_keeps_the_fast_model_where_step_timeouts_bind(tmp_path: Path) -> None:
    """60 restores on 50 slots with a 20-minute timeout: queued tasks time out, and the fast model
    follows them as the engine does (test_fast_model_agrees_where_step_timeouts_bind), so auto keeps it."""
    path = _bound(tmp_path, 60, 10, "restore", "daily-backup", timeout="20m")
    _, timed_out = fast_run(prepare(path, trials=10))
    assert timed_out["daily-backup"] > 0.5
    result = run_comparison(prepare(path, trials=10), model=ModelChoice.AUTO, validate=0)
    assert result.model is not None and result.model.used == "fast" and result.model.unsupported == {}
    assert not any("timed out" in w for w in result.model.warnings)


@pytest.mark.parametrize(
    ("runbook", "candidate", "changes"),
    [
        # 60 restores on 50 slots, 30-minute timeout: every trial has queued attempts cancelled and attempts
        # that time out following their job, retried (a few trials fail for good).
        ("restore", "daily-backup", {"timeout": "30m"}),
        # Test failovers that start 1 h 45 min after a region outage: Site Recovery keeps every point of the
        # last 2 h, then one an hour, so a point found may be pruned (an older one found, or NotFoundError
        # when the test failover starts), and a 10-minute timeout binds on every tier.
        ("failover", "asr", {"timeout": "10m", "declare": "1h45m"}),
    ],
)
def test_fast_model_agrees_where_step_timeouts_bind(tmp_path: Path, runbook: str, candidate: str, changes: dict[str, str]) -> None:
    trials = 30
    path = _bound(tmp_path, 60, trials, runbook, candidate, **changes)
    inputs = prepare(path, trials=trials)
    fast_trials, timed_out = fast_run(inputs)
    engine_trials = list(run_in_process(inputs))
    assert timed_out[candidate] > 0.5  # the regime: a step timed out in most fast trials
    found = agreements(trials_frame(fast_trials, [candidate]), trials_frame(engine_trials, [candidate]), [candidate])
    bad = [a.describe() for a in found if not a.agrees]
    assert not bad, "\n".join(bad)
    failed_fast = sum(o.status == "failed" for o in fast_trials) / trials
    failed_engine = sum(o.status == "failed" for o in engine_trials) / trials
    assert abs(failed_fast - failed_engine) <= 0.15, (failed_fast, failed_engine)


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
    for name in ("comparison.csv", "trials.csv.gz", "validation.csv", "report.md", "failures.csv"):
        # The causes' replay commands name the output directory (failures.csv and the reports).
        there = (tmp_path / "b" / name).read_bytes().replace(b"/b/replay/", b"/out/replay/")
        assert (out / name).read_bytes() == there, name
    # An engine comparison into the same directory drops the fast model's validation files.
    engine_run = CliRunner().invoke(
        main, ["compare", str(STORE), "--trials", "3", "--workers", "1", "--out", str(out), "--model", "engine"]
    )
    assert engine_run.exit_code in (0, 1), engine_run.output
    assert not (out / "validation.csv").exists()
    assert "model: engine" in engine_run.output


def test_cli_disagreement_warning_gives_units(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The warning names the unit of each median: seconds for an RTO or RPO, USD for the drill's cost
    (it printed a bare 0.00984772 for asr's cost). The fast model now agrees with the engine on this
    comparison: its costs are doubled here (in this process: the engine's trials do not use them) to
    make the disagreement the warning is about."""
    from drsim.compare.fast import FastRun

    costs = FastRun.costs
    monkeypatch.setattr(FastRun, "costs", lambda self: 2 * costs(self))
    window = ("--window-end", "2026-11-01T00:00:00Z")
    result = CliRunner().invoke(
        main,
        ["compare", str(STORE), "--trials", "60", "--workers", "1", "-q", "--out", str(tmp_path / "out"), *window, "--model", "fast"],
    )
    assert result.exit_code in (0, 1), result.output
    validation = pd.read_csv(tmp_path / "out" / "validation.csv")
    row = validation[(validation["candidate"] == "asr") & (validation["measure"] == "cost")].iloc[0]
    assert not row["agrees"]  # the case this test is about
    text = " ".join(result.output.split())
    assert f"asr: cost: fast median USD {row['fast_median']:.4f}, engine median USD {row['engine_median']:.4f} " in text


# ------------------------------------------------------------------------------- agreement


def _agreement(path: Path) -> list[Agreement]:
    inputs = prepare(path, trials=TRIALS)
    names = [c.name for c in inputs.candidates]
    fast = trials_frame(fast_outcomes(inputs), names)
    engine = trials_frame(list(run_local_pool(inputs, 2)), names)
    return agreements(fast, engine, names)


GENERATED: dict[str, tuple[int, tuple[int, int, int], int]] = {  # VMs, tier sizes, seed
    "generated-8": (8, (3, 3, 2), 7),  # one app: 3 web, 3 app, 2 striped db VMs
    "generated-6": (6, (1, 1, 1), 11),  # two apps of 3 VMs (web, app, striped db), other incident times
}


@pytest.mark.parametrize("source", [*(p.name for p in EXAMPLES), STORE.name, *GENERATED])
def test_fast_model_agrees_with_the_engine(source: str, tmp_path: Path) -> None:
    if source in GENERATED:
        vms, sizes, seed = GENERATED[source]
        path = write_comparison(tmp_path, vms, trials=TRIALS, sizes=sizes, seed=seed)
    else:
        path = STORE if source == STORE.name else ROOT / "drills" / source
    found = _agreement(path)
    assert found
    for a in found:
        assert a.engine_trials == a.fast_trials == TRIALS
        assert meets_the_issue_rule(a), f"{a.describe()}: outside the issue's rule (medians within 3 %, KS p > 0.01)"
