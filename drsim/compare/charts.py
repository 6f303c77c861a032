"""The comparison's charts: ECDFs of RTO and RPO per candidate, and cost against p95 with the Pareto front.

Drawn with matplotlib's object API and finished by the drill reporter's chart helper
(drsim.report.charts): deterministic SVG, text kept as text (never mathtext), and ids prefixed per
chart so that several charts live inline in one HTML page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from drsim.report.charts import CHART_STYLE as REPORT_STYLE
from drsim.report.charts import Chart, finish_chart

PALETTE = ("#2f6fb0", "#d98c1f", "#2e9a5a", "#c0392b", "#7b52ab", "#8c564b", "#d16aa8", "#6b6b6b", "#a3a31f", "#1fa3b4")


def colour_of(candidates: Sequence[str]) -> dict[str, str]:
    """One stable colour per candidate, in the comparison's order."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(candidates)}


def _unit(values: np.ndarray) -> tuple[float, str]:
    """Minutes when everything finite is under three hours, hours beyond."""
    finite = values[np.isfinite(values)]
    return (60.0, "minutes") if len(finite) == 0 or finite.max() <= 3 * 3600 else (3600.0, "hours")


def ecdf_chart(worst: pd.DataFrame, metric: str, candidates: Sequence[str], title: str, name: str) -> Chart:
    """Empirical CDF of one metric (`rto_s` or `rpo_s`, the per-trial worst app) per candidate.

    Trials without a measurement (+inf) are never reached, so such a curve ends below 1.
    """
    colours = colour_of(candidates)
    every = worst[metric].to_numpy(dtype="float64", na_value=np.nan)
    unit, unit_name = _unit(every[~np.isnan(every)])
    with matplotlib.rc_context(REPORT_STYLE):
        figure = Figure(figsize=(8.0, 3.8), layout="constrained")
        axes = figure.add_subplot()
        drawn = 0
        for candidate in candidates:
            values = worst.loc[worst["candidate"] == candidate, metric].to_numpy(dtype="float64", na_value=np.nan)
            values = values[~np.isnan(values)]
            if len(values) == 0:
                continue
            finite = np.sort(values[np.isfinite(values)])
            shares = np.arange(1, len(finite) + 1) / len(values)
            missing = len(values) - len(finite)
            label = candidate if not missing else f"{candidate} ({missing} of {len(values)} not recovered)"
            axes.step(
                np.concatenate([[0.0], finite / unit]),
                np.concatenate([[0.0], shares]),
                where="post",
                color=colours[candidate],
                linewidth=1.6,
                label=label,
            )
            drawn += 1
        axes.set_xlabel(unit_name)
        axes.set_ylabel("share of trials")
        axes.set_ylim(0, 1.02)
        axes.set_xlim(left=0)
        axes.set_title(title, fontsize=10)
        axes.grid(color="#dddddd", linewidth=0.6)
        if drawn:
            axes.legend(fontsize=8, loc="lower right", frameon=False)
        else:
            axes.text(0.5, 0.5, "not measured", ha="center", va="center", transform=axes.transAxes)
        return finish_chart(figure, name)


def _scatter(axes: Axes, ranking: pd.DataFrame, column: str, label: str, colours: dict[str, str]) -> None:
    seconds = ranking[column].to_numpy(dtype="float64", na_value=np.nan)
    unit, unit_name = _unit(seconds[~np.isnan(seconds)])
    values = seconds / unit
    finite = values[np.isfinite(values)]
    ceiling = finite.max() * 1.15 if len(finite) and finite.max() > 0 else 1.0
    for (_, row), value in zip(ranking.iterrows(), values, strict=True):
        if math.isnan(value):
            continue
        recovered = math.isfinite(value)
        shown = value if recovered else ceiling
        colour = colours[row["candidate"]]
        axes.scatter(
            [row["monthly_cost"]],
            [shown],
            s=70,
            marker="o" if recovered else "^",
            facecolors=colour if row["pareto"] else "none",
            edgecolors=colour,
            linewidths=1.5,
            zorder=3,
        )
        axes.annotate(
            row["candidate"] + ("" if recovered else " (p95 not recovered)"),
            (row["monthly_cost"], shown),
            textcoords="offset points",
            xytext=(6, 4),
            fontsize=8,
        )
    axes.set_xlabel("protection cost, USD per month")
    axes.set_ylabel(f"{label} ({unit_name})")
    axes.set_ylim(bottom=0, top=ceiling * 1.12)
    axes.grid(color="#dddddd", linewidth=0.6)


def cost_scatter_chart(ranking: pd.DataFrame, candidates: Sequence[str], name: str) -> Chart:
    """Monthly cost against p95 RTO and p95 RPO; filled markers are on the Pareto front (cost, p95 RTO, p95 RPO)."""
    colours = colour_of(candidates)
    with matplotlib.rc_context(REPORT_STYLE):
        figure = Figure(figsize=(10.0, 4.0), layout="constrained")
        left, right = figure.subplots(1, 2)
        _scatter(left, ranking, "rto_p95_s", "p95 RTO", colours)
        _scatter(right, ranking, "rpo_p95_s", "p95 RPO", colours)
        figure.suptitle("Monthly cost against p95 recovery time and data loss (filled: on the Pareto front; ▲: not recovered)", fontsize=10)
        return finish_chart(figure, name)
