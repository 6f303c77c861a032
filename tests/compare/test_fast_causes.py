"""Why the fast model's trials fail (drsim.compare.fast_causes) against the engine's causes
(drsim.compare.failures.trial_failures, read from its journal) on the same trials.

The two models face the same incident times and seeds but draw their own random figures, so a
cause's share of trials is, on each side, a binomial estimate of the same probability. Shares agree
when they differ by at most four standard deviations of the difference of two independent proportions
(sqrt(2 p (1 - p) / n), p pooled) plus five points for what the fast model approximates (its medians
agree with the engine's within 3 %, not exactly); every cause above 10 % of trials on one side exists
on the other. The error texts are the engine's wording: each fast task cause's text, digits aside
(which VM failed first differs between the models), is one the engine's journal holds for the same
step and error kind.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from drsim.cloud.sim.catalog import default_catalog
from drsim.compare import prepare
from drsim.compare.analysis import causes_frame
from drsim.compare.failures import OBJECTIVE, FailureCause, failures_frame, trial_failures
from drsim.compare.fast_run import fast_outcomes
from drsim.compare.generated import write_comparison
from drsim.compare.inputs import ComparisonInputs
from drsim.compare.trials import TrialOutcome, trial_specs, worker_documents
from drsim.drills import simulate_run
from drsim.measure.events import TaskFailed

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "drills" / "shop-plans.yaml"
STORE = Path(__file__).parent / "data" / "store-plans.yaml"

Key = tuple[str, str, str, str, str]  # candidate, step, operation, error_kind, category


def _edit(path: Path, edit: Callable[[dict], None]) -> None:
    doc = yaml.safe_load(path.read_text())
    edit(doc)
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def _tuned(tmp_path: Path) -> Path:
    """A generated estate of 9 VMs (one app, 3 per tier) where trials fail in several ways: a backup
    restore that times out (30 min, no retry), Site Recovery's capacity failures with no retry, an RTO
    objective of 35 min missed, a canary check that fails (the striped volumes of fresh snapshots)."""
    path = write_comparison(tmp_path, 9, sizes=(3, 3, 3))

    def restore(doc: dict) -> None:
        for step in doc["steps"]:
            if step["id"] == "db":
                step["timeout"], step["retries"] = "30m", 0

    def failover(doc: dict) -> None:
        doc["objectives"] = [{**o, "rto": "35m"} for o in doc["objectives"]]
        for step in doc["steps"]:
            if step["action"] == "asr.test_failover":
                step["retries"] = 0

    _edit(tmp_path / "runbook-restore.yaml", restore)
    _edit(tmp_path / "runbook-failover.yaml", failover)
    return path


def _every_trial(tmp_path: Path) -> Path:
    """A generated estate of 3 VMs where every trial fails the same ways: no app-consistent Site Recovery
    point (the plan takes none), no app-consistent Backup point of a Linux VM (an allowed failure, then
    a check of a VM nothing recovered), corrupted data restored after a data corruption found 5 h late."""
    path = write_comparison(tmp_path, 3, sizes=(1, 1, 1))

    def restore(doc: dict) -> None:
        doc["scenario"] = {"incident": "data-corruption", "vms": {"env": "prod"}, "detected_after": "5h"}
        for step in doc["steps"]:
            if step["id"] == "web":
                step["with"]["point"], step["allow_failure"] = "latest-app-consistent", True
            if step["id"] == "verify":
                step["needs"] = ["db", "app", "web"]

    def failover(doc: dict) -> None:
        for step in doc["steps"]:
            if step["id"] == "db":
                step["with"]["recovery_point"] = "latest-app-consistent"

    def plan(doc: dict) -> None:
        for rule in doc["rules"]:
            if rule["vms"]["tier"] == "db":
                del rule["site_recovery"]["app_consistent_every"]

    _edit(tmp_path / "runbook-restore.yaml", restore)
    _edit(tmp_path / "runbook-failover.yaml", failover)
    _edit(tmp_path / "plan-asr.yaml", plan)
    return path


def _engine(inputs: ComparisonInputs) -> tuple[list[tuple[str, tuple[FailureCause, ...], str]], dict[tuple[str, str, str], set[str]]]:
    """Every candidate's engine trials: per trial its causes and status (as compare.trials.run_trial
    reads them), and every error the journals hold per (candidate, step, error kind)."""
    documents = worker_documents(inputs)
    catalog = default_catalog()
    trials = []
    errors: dict[tuple[str, str, str], set[str]] = {}
    for spec in trial_specs(inputs, range(inputs.trials)):
        for c in documents.candidates:
            run = simulate_run(
                c.runbook, documents.estate, c.plan, incident_at=spec.incident_at, seed=spec.seed, catalog=catalog, drill_name=c.name
            )
            assert run.result is not None
            trials.append((c.name, trial_failures(run.events, run.result), run.result.status.value))
            for e in run.events:
                if isinstance(e, TaskFailed) and not e.allowed:
                    errors.setdefault((c.name, e.step, e.error_type), set()).add(_digitless(e.error))
    return trials, errors


def _digitless(text: str) -> str:
    return re.sub(r"\d", "#", text)


def _shares(trials: list[tuple[str, tuple[FailureCause, ...], str]], n: int) -> dict[Key, float]:
    counts: Counter[Key] = Counter()
    for candidate, causes, _ in trials:
        for c in causes:
            counts[(candidate, c.step, c.operation, c.error_kind, c.category)] += 1
    return {key: count / n for key, count in counts.items()}


def _compare(path: Path, trials: int, tmp_path: Path) -> dict[Key, tuple[float, float]]:
    """The fast model's and the engine's causes on the same trials; checks them and returns the shares."""
    inputs = prepare(path, trials=trials)
    fast = fast_outcomes(inputs)
    engine, engine_errors = _engine(inputs)
    fast_shares = _shares([(o.candidate, o.failures, o.status) for o in fast], trials)
    engine_shares = _shares(engine, trials)
    both = {key: (fast_shares.get(key, 0.0), engine_shares.get(key, 0.0)) for key in fast_shares.keys() | engine_shares.keys()}
    for key, (f, e) in sorted(both.items()):
        if max(f, e) > 0.10:
            assert f > 0 and e > 0, f"{key}: fast {f:.0%}, engine {e:.0%}"
        pooled = (f + e) / 2
        tolerance = 4 * math.sqrt(2 * pooled * (1 - pooled) / trials) + 0.05
        assert abs(f - e) <= tolerance, f"{key}: fast {f:.0%}, engine {e:.0%} (tolerance {tolerance:.0%})"
    # The engine's wording: every fast task cause's text is one the engine's journal has for that step and kind.
    for o in fast:
        for c in o.failures:
            found = engine_errors.get((o.candidate, c.step, c.error_kind))
            if c.category != OBJECTIVE and found is not None:
                assert _digitless(c.error) in found, f"{o.candidate}/{c.step}: {c.error!r} not among the engine's {sorted(found)}"
    _check_replays(inputs, fast, tmp_path)
    return both


def _check_replays(inputs: ComparisonInputs, fast: list[TrialOutcome], tmp_path: Path) -> None:
    """failures.csv's rows of a fast comparison: each names a trial that had the cause, and the command replaying it."""
    names = [c.name for c in inputs.candidates]
    causes = causes_frame(fast, names)
    failed = causes.groupby("candidate")["trial"].nunique()
    frame = failures_frame(causes, failed, inputs.trials, names, tmp_path / "out")
    assert len(frame) == len(causes.groupby(["candidate", "step", "operation", "error_kind", "category"]))
    by_trial = {(o.candidate, o.trial): o for o in fast}
    for row in frame.itertuples(index=False):
        example = by_trial[(row.candidate, row.example_trial)]
        assert any((c.step, c.operation, c.error_kind) == (row.step, row.operation, row.error_kind) for c in example.failures)
        assert example.status != "passed"
        assert row.replay.startswith(f"drsim drill run {tmp_path / 'out' / 'replay' / row.candidate / 'drill.yaml'} ")
        assert row.replay.endswith(f" --seed {example.seed} --incident-at {row.example_incident_at}")


@pytest.mark.parametrize("source", ["shop", "store", "tuned"])
def test_the_fast_model_fails_trials_for_the_engines_reasons(source: str, tmp_path: Path) -> None:
    if source == "tuned":
        shares = _compare(_tuned(tmp_path / "c"), 40, tmp_path)
        kinds = {(key[0], key[3]) for key, (f, e) in shares.items() if f > 0 and e > 0}
        assert {("daily-backup", "StepTimeout"), ("asr", "CapacityError"), ("asr", "rto-missed"), ("snapshots-6h", "CheckFailure")} <= kinds
    else:
        shares = _compare(SHOP if source == "shop" else STORE, 24, tmp_path)
        assert shares  # trials fail in both examples (the shop's snapshot candidate in every trial)


def test_causes_that_fail_every_trial_are_the_engines_exactly(tmp_path: Path) -> None:
    """No point of the kind asked (Site Recovery, Backup), an allowed failure (no cause) whose VM a check
    then finds not recovered, corrupted data: the same causes in every trial, so the same shares, and the
    trials' statuses follow the failed tasks as the engine's do."""
    path = _every_trial(tmp_path / "c")
    shares = _compare(path, 12, tmp_path)
    assert all(f == e for f, e in shares.values()), shares
    assert ("asr", "db", "asr.test_failover", "NotFoundError", "recovery") in shares
    assert ("daily-backup", "boot", "check.boot", "CheckFailure", "check") in shares
    assert not any(key[1] == "web" for key in shares)  # allowed to fail: not a cause
    inputs = prepare(path, trials=12)
    fast = Counter((o.candidate, o.status) for o in fast_outcomes(inputs))
    engine = Counter((candidate, status) for candidate, _, status in _engine(inputs)[0])
    assert fast == engine
    assert fast[("asr", "failed")] == 12
