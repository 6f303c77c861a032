"""The engine as the fast model's reference: the same incidents through both, and how far they agree.

Every fast comparison also runs `--validate N` engine trials per candidate (the comparison's first N
trials: the same incident times) and compares, per candidate and measure (RTO per app, RPO per app,
the drill's cost), the fast model's distribution over those N trials with the engine's: the
two-sample Kolmogorov-Smirnov statistic and its p-value, and the difference of the medians.

The Kolmogorov-Smirnov p-value is the asymptotic one (Kolmogorov's distribution with Stephens'
small-sample correction, as in Numerical Recipes' `kstwo`), written with numpy: drsim does not need
scipy for it. A trial that never recovered counts as +inf on both sides (so a model that recovers
more often than the engine shows as a large statistic); a value not measured (no RPO objective and
no canary) is left out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from drsim.compare.analysis import QUANTILE_METHOD, effective_rpo, effective_rto

KS_P_WARN = 0.01
"""Below this Kolmogorov-Smirnov p-value the fast model and the engine disagree: a warning."""
MEDIAN_WARN = 0.03
"""Above this relative difference of the medians (3 %) they disagree: a warning."""
MEDIAN_BAND_Z = 2.576
"""validation.csv gives the distribution-free 99 % confidence band of the engine's median (order
statistics n/2 -+ 2.576 sqrt(n)/2): how uncertain the engine's median of a few trials is as an
estimate. It does not enter the rule: both models run the same trials with the same draws (common
random numbers: drsim.compare.fast.WorldDraws), so their difference on those trials is not sampling
noise, and the rule is the issue's (KS_P_WARN, MEDIAN_WARN)."""
MEDIAN_FLOOR_S = 60.0
"""Medians closer than this (in seconds, or cents for costs: see `floor_of`) agree whatever their ratio:
3 % of a 20-second RPO is below the canary's one-second resolution."""

VALIDATION_COLUMNS = [
    "candidate",
    "measure",
    "app",
    "fast_trials",
    "engine_trials",
    "fast_median",
    "engine_median",
    "median_diff",
    "median_rel_diff",
    "engine_median_low",
    "engine_median_high",
    "ks_statistic",
    "ks_pvalue",
    "agrees",
]


def ks_2samp(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and asymptotic p-value (values may be +inf; NaN are dropped)."""
    x = np.sort(np.asarray(a, dtype="float64"))
    y = np.sort(np.asarray(b, dtype="float64"))
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    n, m = len(x), len(y)
    if n == 0 or m == 0:
        return math.nan, math.nan
    pooled = np.concatenate([x, y])
    cdf_x = np.searchsorted(x, pooled, side="right") / n
    cdf_y = np.searchsorted(y, pooled, side="right") / m
    d = float(np.max(np.abs(cdf_x - cdf_y)))
    return d, kolmogorov_pvalue(d, n, m)


def kolmogorov_pvalue(d: float, n: int, m: int) -> float:
    """P(D >= d) for two samples of sizes n and m under the null hypothesis (asymptotic, Stephens' correction)."""
    if d <= 0:
        return 1.0
    en = math.sqrt(n * m / (n + m))
    lam = (en + 0.12 + 0.11 / en) * d
    if lam < 0.2:
        return 1.0
    total = 0.0
    for j in range(1, 101):
        term = 2.0 * (-1) ** (j - 1) * math.exp(-2.0 * j * j * lam * lam)
        total += term
        if abs(term) < 1e-12:
            break
    return float(min(1.0, max(0.0, total)))


def median(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(np.percentile(values, 50, method=QUANTILE_METHOD)) if len(values) else math.nan


def median_band(values: np.ndarray, z: float = MEDIAN_BAND_Z) -> tuple[float, float]:
    """The distribution-free confidence band of a sample's median: the order statistics of ranks
    n/2 -+ z sqrt(n)/2 (the binomial's normal approximation); (nan, nan) for an empty sample."""
    values = np.sort(values[~np.isnan(values)])
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    half = z * math.sqrt(n) / 2
    low = max(0, math.floor(n / 2 - half) - 1)
    high = min(n - 1, math.ceil(n / 2 + half))
    return float(values[low]), float(values[high])


@dataclass(frozen=True)
class Agreement:
    candidate: str
    measure: str  # rto, rpo or cost
    app: str  # "" for the drill's cost
    fast_trials: int
    engine_trials: int
    fast_median: float
    engine_median: float
    ks_statistic: float
    ks_pvalue: float
    engine_low: float = math.nan  # the engine median's 99 % band
    engine_high: float = math.nan

    @property
    def median_diff(self) -> float:
        if self.fast_median == self.engine_median:  # both never (inf) or equal
            return 0.0
        return self.fast_median - self.engine_median

    @property
    def median_rel_diff(self) -> float:
        diff = self.median_diff
        if diff == 0.0:
            return 0.0
        if not math.isfinite(diff) or self.engine_median == 0:
            return math.inf
        return abs(diff) / abs(self.engine_median)

    @property
    def agrees(self) -> bool:
        """Within the documented thresholds: p >= KS_P_WARN, and the medians within MEDIAN_WARN or within
        the floor."""
        if math.isnan(self.ks_pvalue):
            return True  # nothing measured on either side
        close = self.median_rel_diff <= MEDIAN_WARN or abs(self.median_diff) <= floor_of(self.measure)
        return self.ks_pvalue >= KS_P_WARN and close

    def row(self) -> dict[str, object]:
        return {
            "candidate": self.candidate,
            "measure": self.measure,
            "app": self.app,
            "fast_trials": self.fast_trials,
            "engine_trials": self.engine_trials,
            "fast_median": self.fast_median,
            "engine_median": self.engine_median,
            "median_diff": self.median_diff,
            "median_rel_diff": self.median_rel_diff,
            "engine_median_low": self.engine_low,
            "engine_median_high": self.engine_high,
            "ks_statistic": self.ks_statistic,
            "ks_pvalue": self.ks_pvalue,
            "agrees": self.agrees,
        }

    def describe(self) -> str:
        what = f"{self.measure} of {self.app}" if self.app else self.measure
        if self.measure == "cost":  # the drill's cost in USD, to a hundredth of a cent (a median differs by less than a cent)
            fast, engine = f"USD {self.fast_median:.4f}", f"USD {self.engine_median:.4f}"
        else:  # an RTO or RPO in seconds, as validation.csv has it
            fast, engine = f"{self.fast_median:.6g} s", f"{self.engine_median:.6g} s"
        return (
            f"{self.candidate}: {what}: fast median {fast}, engine median {engine} "
            f"({self.median_rel_diff:.1%}), KS {self.ks_statistic:.3f} (p {_p_is(self.ks_pvalue)})"
        )


def floor_of(measure: str) -> float:
    """The absolute difference of medians that always counts as agreement: a minute, or a cent."""
    return 0.01 if measure == "cost" else MEDIAN_FLOOR_S


def pvalue_text(p: float) -> str:
    """A p-value to 3 significant digits that reads as 1 only when it is 1: 0.9999 is `> 0.999`."""
    text = f"{p:.3g}"
    return "> 0.999" if text == "1" and p < 1 else text


def _p_is(p: float) -> str:
    """`= 0.42`, or `> 0.999` (pvalue_text)."""
    text = pvalue_text(p)
    return text if text.startswith(">") else f"= {text}"


def agreements(fast: pd.DataFrame, engine: pd.DataFrame, candidates: Sequence[str]) -> list[Agreement]:
    """Per candidate: RTO and RPO per app and the drill's cost, the fast model against the engine on the
    trials the engine ran (the same incident times: an RPO depends on the incident's time of day more
    than on anything else, so comparing the same incidents keeps that out of the difference)."""
    found = []
    for name in candidates:
        e = engine[engine["candidate"] == name]
        f = fast[(fast["candidate"] == name) & fast["trial"].isin(set(e["trial"]))]
        for app in sorted(set(f["app"]) | set(e["app"])):
            fa, ea = f[f["app"] == app], e[e["app"] == app]
            for measure, values in (("rto", effective_rto), ("rpo", effective_rpo)):
                x = values(fa).to_numpy(dtype="float64")
                y = values(ea).to_numpy(dtype="float64")
                d, p = ks_2samp(x, y)
                found.append(Agreement(name, measure, str(app), len(fa), len(ea), median(x), median(y), d, p, *median_band(y)))
        fc = f.drop_duplicates("trial")["drill_cost"].to_numpy(dtype="float64")
        ec = e.drop_duplicates("trial")["drill_cost"].to_numpy(dtype="float64")
        d, p = ks_2samp(fc, ec)
        found.append(Agreement(name, "cost", "", len(fc), len(ec), median(fc), median(ec), d, p, *median_band(ec)))
    return found


def validation_frame(found: Sequence[Agreement]) -> pd.DataFrame:
    return pd.DataFrame([a.row() for a in found], columns=VALIDATION_COLUMNS)
