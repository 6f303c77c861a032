"""Frames, summary, ranking and Pareto front from hand-made trial outcomes."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from drsim.compare.analysis import TRIAL_COLUMNS, pareto_front, per_trial_worst, rank_candidates, summarize, trials_frame
from drsim.compare.trials import AppOutcome, TrialOutcome

T0 = datetime(2026, 10, 1, tzinfo=UTC)


def outcome(candidate: str, trial: int, *apps: AppOutcome, cost: float = 1.0) -> TrialOutcome:
    return TrialOutcome(candidate, trial, T0 + timedelta(hours=trial), 100 + trial, "passed", cost, apps)


def app(name: str, rto: float | None, rpo: float | None, *, rto_met: bool | None = True, rpo_met: bool | None = True) -> AppOutcome:
    return AppOutcome(name, rto, rpo, rpo, True, rto_met, rpo_met)


def test_trials_frame_has_the_columns_and_a_stable_order() -> None:
    outcomes = [
        outcome("b", 1, app("web", 10, 1)),
        outcome("a", 0, app("web", 20, 2), app("db", 30, 3)),
        outcome("b", 0, app("web", 40, 4)),
    ]
    frame = trials_frame(outcomes, ["b", "a"])
    assert list(frame.columns) == TRIAL_COLUMNS
    assert list(zip(frame["candidate"], frame["trial"], frame["app"], strict=True)) == [
        ("b", 0, "web"),
        ("b", 1, "web"),
        ("a", 0, "db"),
        ("a", 0, "web"),
    ]
    assert str(frame["incident_at"].dtype) == "datetime64[ns, UTC]"
    assert frame.equals(trials_frame(list(reversed(outcomes)), ["b", "a"]))


def test_percentiles_count_an_unrecovered_trial_as_worse_than_any() -> None:
    outcomes = [outcome("a", k, app("web", float(k + 1), None, rpo_met=None)) for k in range(9)]
    outcomes.append(outcome("a", 9, app("web", None, None, rto_met=False, rpo_met=None)))
    trials = trials_frame(outcomes, ["a"])
    ranking = rank_candidates(trials, {"a": 5.0}, ["a"], 10)
    row = summarize(trials, ranking).iloc[0]
    assert row["rto_p50_s"] == 5.0  # the 5th of 10 values: read off the ECDF
    assert math.isinf(row["rto_max_s"]) and math.isinf(row["rto_p99_s"])
    assert math.isnan(row["rpo_p95_s"])  # never measured: a stateless app has no RPO
    assert row["rto_met_share"] == 0.9
    assert math.isnan(row["rpo_met_share"])  # no RPO objective
    assert row["all_met_share"] == 0.9 and not row["qualifies"]


def test_worst_app_per_trial() -> None:
    trials = trials_frame([outcome("a", 0, app("db", 100, 50), app("web", 200, 10, rpo_met=False))], ["a"])
    worst = per_trial_worst(trials)
    assert worst[["rto_s", "rpo_s", "all_met"]].iloc[0].tolist() == [200.0, 50.0, False]


def test_ranking_puts_qualifying_candidates_first_then_the_cheapest() -> None:
    outcomes = []
    for k in range(20):
        outcomes.append(outcome("cheap-bad", k, app("s", 100, 90000, rpo_met=False)))
        outcomes.append(outcome("pricey-good", k, app("s", 300, 60), cost=3.0))
        outcomes.append(outcome("cheap-good", k, app("s", 400, 600, rpo_met=k != 0)))  # 19 of 20 = 95 %: qualifies
    trials = trials_frame(outcomes, ["cheap-bad", "pricey-good", "cheap-good"])
    ranking = rank_candidates(
        trials, {"cheap-bad": 10.0, "pricey-good": 100.0, "cheap-good": 30.0}, ["cheap-bad", "pricey-good", "cheap-good"], 20
    )
    assert ranking["candidate"].tolist() == ["cheap-good", "pricey-good", "cheap-bad"]
    assert ranking["rank"].tolist() == [1, 2, 3]
    assert ranking["qualifies"].tolist() == [True, True, False]
    assert ranking["all_met_share"].tolist() == [0.95, 1.0, 0.0]
    assert ranking["drill_cost"].tolist() == [1.0, 3.0, 1.0]
    # Every one is best at something: cheapest (cheap-bad), fastest RPO (pricey-good), and cheap-good
    # is cheaper than pricey-good with a better RPO than cheap-bad.
    assert ranking["pareto"].tolist() == [True, True, True]


def test_missing_trials_count_as_not_met() -> None:
    trials = trials_frame([outcome("a", k, app("s", 1, 1)) for k in range(19)], ["a"])
    ranking = rank_candidates(trials, {"a": 1.0}, ["a"], 20)
    assert ranking["all_met_share"].iloc[0] == 0.95


def test_pareto_front_drops_dominated_points_and_keeps_ties() -> None:
    points = pd.DataFrame({"cost": [1, 2, 2, 3, 1], "rto": [5, 4, 4, 6, np.nan]})
    assert pareto_front(points, ["cost", "rto"]).tolist() == [True, True, True, False, False]


def test_a_candidate_that_never_recovers_is_never_not_unmeasured() -> None:
    outcomes = [outcome("a", k, app("db", None, None, rto_met=False, rpo_met=False)) for k in range(5)]
    trials = trials_frame(outcomes, ["a"])
    ranking = rank_candidates(trials, {"a": 1.0}, ["a"], 5)
    row = summarize(trials, ranking).iloc[0]
    # Objectives were set and never met: +inf, shown as "never", not NaN ("not measured").
    assert math.isinf(row["rto_p50_s"]) and math.isinf(row["rpo_p95_s"])
    assert math.isinf(ranking["rto_p95_s"].iloc[0]) and math.isinf(ranking["rpo_p95_s"].iloc[0])
    assert row["rto_met_share"] == 0.0
