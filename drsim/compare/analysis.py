"""From trial outcomes to pandas frames: the per-trial frame, the summary per candidate and app, the ranking.

Conventions, also in docs/compare.md:
- A trial in which an app never became healthy has no RTO; percentiles count it as +inf, worse than
  any measurement, so failures cannot hide behind a good p95. The same holds for a missing RPO when
  the runbook sets an RPO objective for the app (the data was never read back); without an RPO
  objective a missing RPO is not measured (a stateless tier) and left out (NaN).
- A candidate's RTO (RPO) in one trial is that of its slowest (most data-losing) app: the estate is
  back when every app is back. The Pareto front and the charts use these per-trial worst values.
- An objective a runbook does not set (rto_met / rpo_met empty) counts as met.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from drsim.compare.trials import TrialOutcome

TRIAL_COLUMNS = [
    "candidate",
    "trial",
    "incident_at",
    "app",
    "rto_s",
    "rpo_s",
    "rpo_claimed_s",
    "consistent",
    "rto_met",
    "rpo_met",
    "drill_cost",
]
PERCENTILES = (50, 90, 95, 99)
QUANTILE_METHOD: Literal["inverted_cdf"] = "inverted_cdf"
"""Percentiles read off the empirical CDF (the smallest value reached by p % of trials): no interpolation,
so they match the ECDF charts and stay meaningful when some trials count as +inf."""
QUALIFYING_SHARE = 0.95
"""A candidate qualifies when every objective is met in at least this share of its trials."""


def trials_frame(outcomes: Iterable[TrialOutcome], candidate_order: Sequence[str]) -> pd.DataFrame:
    """One row per candidate, trial and app, sorted the same way whatever order the outcomes arrived in."""
    rows = [
        (o.candidate, o.trial, o.incident_at, a.app, a.rto_s, a.rpo_s, a.rpo_claimed_s, a.consistent, a.rto_met, a.rpo_met, o.drill_cost)
        for o in outcomes
        for a in o.apps
    ]
    frame = pd.DataFrame.from_records(rows, columns=TRIAL_COLUMNS)
    frame = frame.astype(
        {
            "candidate": "object",
            "trial": "int64",
            "app": "object",
            "rto_s": "float64",
            "rpo_s": "float64",
            "rpo_claimed_s": "float64",
            "consistent": "boolean",
            "rto_met": "boolean",
            "rpo_met": "boolean",
            "drill_cost": "float64",
        }
    )
    frame["incident_at"] = pd.to_datetime(frame["incident_at"], utc=True)
    order = {name: i for i, name in enumerate(candidate_order)}
    frame = frame.sort_values(["candidate", "trial", "app"], key=lambda s: s.map(order) if s.name == "candidate" else s, kind="stable")
    return frame.reset_index(drop=True)


def effective_rto(trials: pd.DataFrame) -> pd.Series:
    """RTO per row with a never-healthy app as +inf."""
    return trials["rto_s"].astype("float64").fillna(np.inf)


def effective_rpo(trials: pd.DataFrame) -> pd.Series:
    """RPO per row: missing is +inf where an RPO objective was set, else NaN (not measured)."""
    rpo = trials["rpo_s"].astype("float64")
    return rpo.where(rpo.notna() | trials["rpo_met"].isna(), np.inf)


def _percentiles(values: pd.Series, prefix: str) -> dict[str, float]:
    array = values.to_numpy(dtype="float64", na_value=np.nan)
    array = array[~np.isnan(array)]
    if len(array) == 0:
        return {**{f"{prefix}_p{p}_s": np.nan for p in PERCENTILES}, f"{prefix}_max_s": np.nan}
    found = {f"{prefix}_p{p}_s": float(np.percentile(array, p, method=QUANTILE_METHOD)) for p in PERCENTILES}
    found[f"{prefix}_max_s"] = float(array.max())
    return found


def _share(met: pd.Series) -> float:
    """The share of trials meeting an objective; NaN when the runbook sets no such objective."""
    if met.isna().all():
        return np.nan
    return float(met.fillna(False).astype(bool).mean())


def per_trial_worst(trials: pd.DataFrame) -> pd.DataFrame:
    """Per candidate and trial: the slowest app's RTO, the largest RPO, and whether every objective was met."""
    work = trials.assign(
        rto=effective_rto(trials),
        rpo=effective_rpo(trials),
        met=trials["rto_met"].fillna(True).astype(bool) & trials["rpo_met"].fillna(True).astype(bool),
    )
    grouped = work.groupby(["candidate", "trial"], sort=False)
    return pd.DataFrame(
        {
            "rto_s": grouped["rto"].max(),
            "rpo_s": grouped["rpo"].max(),
            "all_met": grouped["met"].all(),
            "drill_cost": grouped["drill_cost"].first(),
        }
    ).reset_index()


def _p95(values: pd.Series) -> float:
    array = values.to_numpy(dtype="float64", na_value=np.nan)
    array = array[~np.isnan(array)]
    return float(np.percentile(array, 95, method=QUANTILE_METHOD)) if len(array) else np.nan


def pareto_front(points: pd.DataFrame, columns: Sequence[str], eligible: pd.Series | None = None) -> pd.Series:
    """True for each eligible row no other eligible row dominates (no worse in every column, better in
    one); NaN counts as +inf. A row that is not eligible is never on the front and dominates nothing."""
    values = points[list(columns)].to_numpy(dtype="float64", na_value=np.inf)
    values = np.where(np.isnan(values), np.inf, values)
    allowed = np.ones(len(values), dtype=bool) if eligible is None else eligible.to_numpy(dtype=bool)
    front = []
    for i in range(len(values)):
        if not allowed[i]:
            front.append(False)
            continue
        others = np.delete(values[allowed], int(allowed[:i].sum()), axis=0)
        dominated = bool(np.any(np.all(others <= values[i], axis=1) & np.any(others < values[i], axis=1)))
        front.append(not dominated)
    return pd.Series(front, index=points.index, dtype=bool)


def recovers_at_p95(rto_p95_s: pd.Series, rpo_p95_s: pd.Series) -> pd.Series:
    """Whether a candidate recovers at the ranking's percentile: its p95 RTO is reached (finite), and so
    is its p95 RPO where one is measured. A candidate that does not is never on the Pareto front and
    never qualifies, whatever its objectives say (a runbook without objectives meets them all)."""
    rto = rto_p95_s.astype("float64")
    rpo = rpo_p95_s.astype("float64")
    return pd.Series(np.isfinite(rto.to_numpy()) & ~np.isposinf(rpo.to_numpy()), index=rto_p95_s.index, dtype=bool)


def rank_candidates(
    trials: pd.DataFrame, monthly_costs: Mapping[str, float], candidate_order: Sequence[str], expected_trials: int
) -> pd.DataFrame:
    """One row per candidate: qualifying share, costs, worst-app p95s, rank and Pareto membership.

    Rank: candidates meeting every objective in >= 95 % of trials (and recovering at p95) first, then
    the cheapest per month (then the cheapest drill, then the comparison's order). A trial with no
    outcome counts as not met. Only candidates that recover at p95 can be on the Pareto front.
    """
    worst = per_trial_worst(trials)
    rows: list[dict[str, object]] = []
    for name in candidate_order:
        mine = worst[worst["candidate"] == name]
        rows.append(
            {
                "candidate": name,
                "trials": expected_trials,
                "all_met_share": float(mine["all_met"].sum()) / expected_trials if expected_trials else np.nan,
                "monthly_cost": float(monthly_costs[name]),
                "drill_cost": float(mine["drill_cost"].mean()) if len(mine) else np.nan,
                "rto_p95_s": _p95(mine["rto_s"]),
                "rpo_p95_s": _p95(mine["rpo_s"]),
                "order": len(rows),
            }
        )
    ranking = pd.DataFrame(rows)
    ranking["recovers"] = recovers_at_p95(ranking["rto_p95_s"], ranking["rpo_p95_s"])
    ranking["qualifies"] = (ranking["all_met_share"] >= QUALIFYING_SHARE) & ranking["recovers"]
    ranking["pareto"] = pareto_front(ranking, ["monthly_cost", "rto_p95_s", "rpo_p95_s"], ranking["recovers"])
    ranking = ranking.sort_values(["qualifies", "monthly_cost", "drill_cost", "order"], ascending=[False, True, True, True], kind="stable")
    ranking.insert(0, "rank", range(1, len(ranking) + 1))
    return ranking.drop(columns="order").reset_index(drop=True)


def summarize(trials: pd.DataFrame, ranking: pd.DataFrame) -> pd.DataFrame:
    """The summary per candidate and app (comparison.csv), in rank order then app order."""
    rows = []
    for _, cand in ranking.iterrows():
        mine = trials[trials["candidate"] == cand["candidate"]]
        for app, group in mine.groupby("app", sort=True):
            rows.append(
                {
                    "rank": int(cand["rank"]),
                    "candidate": cand["candidate"],
                    "app": app,
                    "trials": int(group["trial"].nunique()),
                    **_percentiles(effective_rto(group), "rto"),
                    **_percentiles(effective_rpo(group), "rpo"),
                    "rto_met_share": _share(group["rto_met"]),
                    "rpo_met_share": _share(group["rpo_met"]),
                    "consistent_share": _share(group["consistent"]),
                    "all_met_share": cand["all_met_share"],
                    "recovers": bool(cand["recovers"]),
                    "qualifies": bool(cand["qualifies"]),
                    "pareto": bool(cand["pareto"]),
                    "monthly_cost": cand["monthly_cost"],
                    "drill_cost": float(group["drill_cost"].mean()),
                }
            )
    return pd.DataFrame(rows)


CAUSE_COLUMNS = ["candidate", "trial", "incident_at", "seed", "step", "operation", "error_kind", "category", "error"]


def causes_frame(outcomes: Iterable[TrialOutcome], candidate_order: Sequence[str]) -> pd.DataFrame:
    """One row per candidate, trial and cause of its failure (compare.failures), sorted like the trials."""
    rows = [
        (o.candidate, o.trial, o.incident_at, o.seed, c.step, c.operation, c.error_kind, c.category, c.error)
        for o in outcomes
        for c in o.failures
    ]
    frame = pd.DataFrame.from_records(rows, columns=CAUSE_COLUMNS).astype({"trial": "int64", "seed": "int64"})
    frame["incident_at"] = pd.to_datetime(frame["incident_at"], utc=True)
    order = {name: i for i, name in enumerate(candidate_order)}
    keys = ["candidate", "trial", "step", "operation", "error_kind"]
    frame = frame.sort_values(keys, key=lambda s: s.map(order) if s.name == "candidate" else s, kind="stable")
    return frame.reset_index(drop=True)
