"""The comparison's charts as SVG text: ECDFs of RTO and RPO per candidate, and cost against p95 with the Pareto front.

Drawn with matplotlib's object API (no pyplot state, safe in any thread) and saved with a fixed
hash salt and no date, so the same frames give the same SVG bytes.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib import rcParams
from matplotlib.axes import Axes
from matplotlib.figure import Figure

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
_PROLOG = re.compile(r"^.*?(?=<svg)", re.DOTALL)


def colour_of(candidates: Sequence[str]) -> dict[str, str]:
    """One stable colour per candidate, in the comparison's order."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(candidates)}


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    with_params = {"svg.hashsalt": "drsim-compare", "svg.fonttype": "none"}
    saved = {key: rcParams[key] for key in with_params}
    rcParams.update(with_params)
    try:
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": "drsim"}, bbox_inches="tight")
    finally:
        rcParams.update(saved)
    # Inline SVG in HTML needs no XML prolog or DOCTYPE.
    return _PROLOG.sub("", buffer.getvalue(), count=1).strip()


def _hours(seconds: np.ndarray) -> np.ndarray:
    return seconds / 3600.0


def ecdf_svg(worst: pd.DataFrame, metric: str, candidates: Sequence[str], title: str) -> str:
    """Empirical CDF of one metric (`rto_s` or `rpo_s`, per-trial worst app) per candidate, in hours.

    Trials without a measurement (+inf) are never reached, so such a curve ends below 1.
    """
    colours = colour_of(candidates)
    figure = Figure(figsize=(7.0, 3.6))
    axes = figure.subplots()
    drawn = 0
    for name in candidates:
        values = worst.loc[worst["candidate"] == name, metric].to_numpy(dtype="float64", na_value=np.nan)
        if len(values) == 0 or np.isnan(values).all():
            continue
        finite = np.sort(values[np.isfinite(values)])
        shares = np.arange(1, len(finite) + 1) / len(values)
        label = name if len(finite) == len(values) else f"{name} ({len(values) - len(finite)} not recovered)"
        axes.step(np.concatenate([[0.0], _hours(finite)]), np.concatenate([[0.0], shares]), where="post", color=colours[name], label=label)
        drawn += 1
    axes.set_xlabel("hours")
    axes.set_ylabel("share of trials")
    axes.set_ylim(0, 1.02)
    axes.set_xlim(left=0)
    axes.set_title(title, fontsize=11)
    axes.grid(True, alpha=0.3)
    if drawn:
        axes.legend(fontsize=8, loc="lower right")
    else:
        axes.text(0.5, 0.5, "not measured", ha="center", va="center", transform=axes.transAxes)
    return _svg(figure)


def _scatter(axes: Axes, ranking: pd.DataFrame, column: str, label: str, colours: dict[str, str]) -> None:
    values = ranking[column].to_numpy(dtype="float64", na_value=np.nan) / 3600.0
    finite = values[np.isfinite(values)]
    ceiling = (finite.max() * 1.15 if len(finite) and finite.max() > 0 else 1.0)
    for (_, row), value in zip(ranking.iterrows(), values, strict=True):
        if math.isnan(value):
            continue
        shown = value if math.isfinite(value) else ceiling
        on_front = bool(row["pareto"])
        axes.scatter(
            [row["monthly_cost"]],
            [shown],
            s=70,
            marker="o" if math.isfinite(value) else "^",
            facecolors=colours[row["candidate"]] if on_front else "none",
            edgecolors=colours[row["candidate"]],
            linewidths=1.5,
            zorder=3,
        )
        axes.annotate(row["candidate"] + ("" if math.isfinite(value) else " (not recovered)"), (row["monthly_cost"], shown),
                      textcoords="offset points", xytext=(6, 4), fontsize=8)
    axes.set_xlabel("protection cost, USD per month")
    axes.set_ylabel(f"{label} (hours)")
    axes.set_ylim(bottom=0)
    axes.grid(True, alpha=0.3)


def cost_scatter_svg(ranking: pd.DataFrame, candidates: Sequence[str]) -> str:
    """Monthly cost against p95 RTO and p95 RPO; filled markers are on the Pareto front (cost, p95 RTO, p95 RPO)."""
    colours = colour_of(candidates)
    figure = Figure(figsize=(9.0, 3.6))
    left, right = figure.subplots(1, 2)
    _scatter(left, ranking, "rto_p95_s", "p95 RTO", colours)
    _scatter(right, ranking, "rpo_p95_s", "p95 RPO", colours)
    figure.suptitle("Cost against p95 recovery time and data loss (filled: Pareto front)", fontsize=11)
    return _svg(figure)
