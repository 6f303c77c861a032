"""The comparison's charts: ECDFs of RTO and RPO per candidate, and cost against p95 with the Pareto front.

Drawn with matplotlib's object API and finished by the drill reporter's chart helper
(drsim.report.charts): deterministic SVG, text kept as text (never mathtext), and ids prefixed per
chart so that several charts live inline in one HTML page.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

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


LINESTYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
MARKS_PER_LINE = 8
"""Markers drawn along each ECDF line, at positions offset per candidate: lines that coincide still show each one's."""


def _titled(title: str, note: str) -> str:
    """A chart's title with its note (the incident window) below it, wrapped to the chart's width."""
    return "\n".join([title, *textwrap.wrap(note, 120)]) if note else title


def legend_columns(labels: Sequence[str]) -> int:
    """Legend columns below a chart: one per label while they are short, one in all for long (mixed) labels."""
    if not labels or max(len(label) for label in labels) > 40:
        return 1
    return min(4, len(labels))


def style_of(candidates: Sequence[str]) -> dict[str, tuple[str, str, str]]:
    """One (colour, line style, marker) per candidate, all three differing between neighbours: a line that
    lies exactly on another one stays visible by its dashes and markers, and in black and white."""
    colours = colour_of(candidates)
    return {name: (colours[name], LINESTYLES[i % len(LINESTYLES)], MARKERS[i % len(MARKERS)]) for i, name in enumerate(candidates)}


def ecdf_figure(
    worst: pd.DataFrame, metric: str, candidates: Sequence[str], title: str, *, labels: Mapping[str, str] | None = None, note: str = ""
) -> Figure:
    """Empirical CDF of one metric (`rto_s` or `rpo_s`, the per-trial worst app) per candidate.

    Trials without a measurement (+inf) are never reached, so such a curve ends below 1. `labels`
    name the candidates in the legend (what each faced, in a mixed comparison); `note` goes under
    the title (the incident window). The legend sits outside the axes, below them.
    """
    styles = style_of(candidates)
    every = worst[metric].to_numpy(dtype="float64", na_value=np.nan)
    unit, unit_name = _unit(every[~np.isnan(every)])
    with matplotlib.rc_context(REPORT_STYLE):
        names = [labels.get(c, c) if labels else c for c in candidates]
        columns = legend_columns(names)
        figure = Figure(figsize=(9.0, 3.6 + 0.2 * -(-len(names) // columns)), layout="constrained")
        axes = figure.add_subplot()
        drawn = 0
        for i, candidate in enumerate(candidates):
            values = worst.loc[worst["candidate"] == candidate, metric].to_numpy(dtype="float64", na_value=np.nan)
            values = values[~np.isnan(values)]
            if len(values) == 0:
                continue
            finite = np.sort(values[np.isfinite(values)])
            shares = np.arange(1, len(finite) + 1) / len(values)
            missing = len(values) - len(finite)
            name = labels.get(candidate, candidate) if labels else candidate
            label = name if not missing else f"{name} ({missing} of {len(values)} not recovered)"
            x = np.concatenate([[0.0], finite / unit])
            every_nth = max(1, len(x) // MARKS_PER_LINE)
            colour, linestyle, marker = styles[candidate]
            axes.step(
                x,
                np.concatenate([[0.0], shares]),
                where="post",
                color=colour,
                linestyle=linestyle,
                marker=marker,
                markersize=5,
                markerfacecolor="none",
                markevery=(i % every_nth, every_nth),
                linewidth=1.6,
                label=label,
            )
            drawn += 1
        axes.set_xlabel(unit_name)
        axes.set_ylabel("share of trials")
        axes.set_ylim(0, 1.02)
        axes.set_xlim(left=0)
        axes.set_title(_titled(title, note), fontsize=10)
        axes.grid(color="#dddddd", linewidth=0.6)
        if drawn:
            figure.legend(loc="outside lower center", ncols=columns, fontsize=8, frameon=False)
        else:
            axes.text(0.5, 0.5, "not measured", ha="center", va="center", transform=axes.transAxes)
        return figure


def ecdf_chart(
    worst: pd.DataFrame,
    metric: str,
    candidates: Sequence[str],
    title: str,
    name: str,
    *,
    labels: Mapping[str, str] | None = None,
    note: str = "",
) -> Chart:
    """The ECDF figure as a finished SVG chart."""
    with matplotlib.rc_context(REPORT_STYLE):  # the style also rules the rendering: text as text, a fixed hash salt
        return finish_chart(ecdf_figure(worst, metric, candidates, title, labels=labels, note=note), name)


def _scatter(axes: Axes, ranking: pd.DataFrame, column: str, label: str, styles: Mapping[str, tuple[str, str, str]]) -> None:
    seconds = ranking[column].to_numpy(dtype="float64", na_value=np.nan)
    unit, unit_name = _unit(seconds[~np.isnan(seconds)])
    values = seconds / unit
    finite = values[np.isfinite(values)]
    ceiling = finite.max() * 1.25 if len(finite) and finite.max() > 0 else 1.0
    never = False
    for (_, row), value in zip(ranking.iterrows(), values, strict=True):
        if math.isnan(value):
            continue
        recovered = math.isfinite(value)
        never = never or not recovered
        colour, _, marker = styles[row["candidate"]]
        axes.scatter(
            [row["monthly_cost"]],
            [value if recovered else ceiling],
            s=70,
            marker=marker,
            facecolors=colour if row["pareto"] else "none",
            edgecolors=colour,
            linewidths=1.5,
            zorder=3,
            clip_on=False,  # a point on an axis (an RPO of minutes in hours) stays whole
        )
    axes.margins(x=0.08)
    axes.set_xlabel("protection cost, USD per month")
    axes.set_ylabel(f"{label} ({unit_name})")
    axes.set_ylim(bottom=0, top=ceiling * 1.12)
    if never:  # the row of candidates whose percentile was never reached, labelled on the axis, not over the data
        axes.axhline(ceiling, color="#999999", linewidth=0.8, linestyle=":", zorder=1)
        ticks = [t for t in axes.get_yticks() if 0 <= t < ceiling * 0.88]  # leave room for the `never` label
        axes.set_yticks([*ticks, ceiling], [f"{t:g}" for t in ticks] + ["never"])
    axes.grid(color="#dddddd", linewidth=0.6)


def cost_scatter_figure(
    ranking: pd.DataFrame, candidates: Sequence[str], *, labels: Mapping[str, str] | None = None, note: str = ""
) -> Figure:
    """Monthly cost against p95 RTO and p95 RPO; filled markers are on the Pareto front (cost, p95 RTO,
    p95 RPO); a candidate whose p95 was never reached sits on the `never` row. One marker per candidate,
    named in a legend below the plots."""
    styles = style_of(candidates)
    with matplotlib.rc_context(REPORT_STYLE):
        figure = Figure(figsize=(10.0, 4.4), layout="constrained")
        left, right = figure.subplots(1, 2)
        _scatter(left, ranking, "rto_p95_s", "p95 RTO", styles)
        _scatter(right, ranking, "rpo_p95_s", "p95 RPO", styles)
        pareto = dict(zip(ranking["candidate"], ranking["pareto"], strict=True))
        handles = [
            Line2D(
                [],
                [],
                linestyle="none",
                marker=styles[c][2],
                markersize=8,
                markeredgecolor=styles[c][0],
                markerfacecolor=styles[c][0] if pareto.get(c) else "none",
                label=(labels.get(c, c) if labels else c) + (" (Pareto front)" if pareto.get(c) else ""),
            )
            for c in candidates
            if c in pareto
        ]
        figure.legend(
            handles=handles,
            loc="outside lower center",
            ncols=legend_columns([str(h.get_label()) for h in handles]),
            fontsize=8,
            frameon=False,
        )
        title = "Monthly cost against p95 recovery time and data loss (filled: on the Pareto front; never: p95 not recovered)"
        figure.suptitle(_titled(title, note), fontsize=10)
        return figure


def cost_scatter_chart(
    ranking: pd.DataFrame, candidates: Sequence[str], name: str, *, labels: Mapping[str, str] | None = None, note: str = ""
) -> Chart:
    """The cost scatter figure as a finished SVG chart."""
    with matplotlib.rc_context(REPORT_STYLE):
        return finish_chart(cost_scatter_figure(ranking, candidates, labels=labels, note=note), name)
