"""The report's charts as SVG (matplotlib): the drill timeline (Gantt) and the trend across runs.

Text is kept as SVG <text> (escaped by matplotlib), never parsed as mathtext, and ids are prefixed
per chart so that two charts can live inline in one HTML page. Output is deterministic: no date in
the metadata, a fixed hash salt.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import matplotlib
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from drsim.measure.result import TaskStatus
from drsim.model.types import Action, Phase
from drsim.report.view import ReportView, StepGroup, TaskRow, timeline_span

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"

CHART_STYLE: dict[Any, Any] = {
    "svg.fonttype": "none",  # real <text>: searchable, small, and escaped by matplotlib
    "svg.hashsalt": "drsim",
    "text.parse_math": False,  # a `$` in a VM name is text, not TeX
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
PHASE_COLOURS = {Phase.HUMAN: "#d98c1f", Phase.INFRASTRUCTURE: "#2f6fb0", Phase.VALIDATION: "#2e9a5a"}
FAILED = "#c0392b"
SKIPPED = "#b0b0b0"
CRITICAL_EDGE = "#111111"
INCIDENT = "#c0392b"
HEALTHY = "#1e7d45"


@dataclass(frozen=True)
class Chart:
    """One chart: the standalone SVG file text, and the same drawing to inline in HTML."""

    name: str
    svg: str
    inline: str


def finish_chart(figure: Figure, name: str) -> Chart:
    """Render a figure to inline SVG: no metadata, ids prefixed with `name` so charts can share a page."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    ET.register_namespace("", SVG_NS)
    root = ET.fromstring(buffer.getvalue())
    for metadata in root.findall(f"{{{SVG_NS}}}metadata"):
        root.remove(metadata)
    for element in root.iter():
        if "id" in element.attrib:
            element.set("id", f"{name}-{element.get('id')}")
        target = element.attrib.pop(f"{{{XLINK_NS}}}href", None) or element.attrib.pop("href", None)
        if target is not None:  # SVG 2 `href` (no xlink namespace needed inline), pointing at the prefixed id
            element.set("href", f"#{name}-{target[1:]}" if target.startswith("#") else target)
        for attribute in ("clip-path", "mask", "filter", "fill"):
            value = element.get(attribute)
            if value and value.startswith("url(#"):
                element.set(attribute, f"url(#{name}-{value[5:]}")
        style = element.get("style")
        if style and "url(#" in style:
            element.set("style", style.replace("url(#", f"url(#{name}-"))
    root.set("role", "img")
    root.set("aria-label", name)
    body = ET.tostring(root, encoding="unicode")
    inline = body.replace(f' xmlns="{SVG_NS}"', "", 1)
    return Chart(name, '<?xml version="1.0" encoding="utf-8"?>\n' + body + "\n", inline)


def _scale(span_s: float) -> tuple[float, str]:
    """Minutes for drills up to three hours, hours beyond."""
    return (60.0, "minutes after the incident") if span_s <= 3 * 3600 else (3600.0, "hours after the incident")


def _offset(moment: datetime, origin: datetime, unit: float) -> float:
    return (moment - origin) / timedelta(seconds=1) / unit


def _task_label(task: TaskRow) -> str:
    return f"{task.step} · {task.vm}" if task.vm else task.step


def _group_label(group: StepGroup) -> str:
    extra = f", {group.failed} failed" if group.failed else ""
    extra += f", {group.skipped} skipped" if group.skipped else ""
    return f"{group.step} ({group.count} task{'' if group.count == 1 else 's'}{extra})"


def timeline_chart(view: ReportView) -> Chart:
    """A bar per task (or per step, for large drills) against time since the incident; the measured critical
    path outlined; the incident and each application's T_app_healthy as vertical lines."""
    origin = view.incident_at
    first, last = timeline_span(view)
    span = max((last - first) / timedelta(seconds=1), 1.0)
    unit, unit_label = _scale(span)
    rows: list[tuple[str, float | None, float | None, str, bool]] = []  # label, left, width, colour, critical
    failures: list[tuple[int, float]] = []  # grouped: a red tick where each failed task ended, on its step's bar
    if view.grouped:
        row_of = {group.step: y for y, group in enumerate(view.steps)}
        for group in view.steps:
            left = _offset(group.start, origin, unit) if group.start else None
            width = (_offset(group.end, origin, unit) - left) if group.end and left is not None else None
            everything_failed = group.failed == group.count
            colour = FAILED if everything_failed else SKIPPED if group.skipped == group.count else PHASE_COLOURS[Action(group.action).phase]
            rows.append((_group_label(group), left, width, colour, group.critical))
        failures = [(row_of[t.step], _offset(t.end, origin, unit)) for t in view.tasks if t.status is TaskStatus.FAILED and t.end]
    else:
        for task in sorted(view.tasks, key=lambda t: (t.start is None, t.start or origin, t.step, t.vm or "")):
            left = _offset(task.start, origin, unit) if task.start else None
            width = (_offset(task.end, origin, unit) - left) if task.end and left is not None else None
            colour = {TaskStatus.FAILED: FAILED, TaskStatus.SKIPPED: SKIPPED}.get(task.status, PHASE_COLOURS[Action(task.action).phase])
            label = _task_label(task) + ("" if task.status is TaskStatus.SUCCEEDED else f" ({task.status.value})")
            rows.append((label, left, width, colour, task.critical))

    with matplotlib.rc_context(CHART_STYLE):
        height = 1.6 + 0.22 * max(len(rows), 1)
        figure = Figure(figsize=(10, height), layout="constrained")
        axes = figure.add_subplot()
        for y, (_, left, width, colour, critical) in enumerate(rows):
            if left is None:
                continue
            axes.barh(
                y,
                max(width or 0.0, span / unit / 400),
                left=left,
                height=0.62,
                color=colour,
                edgecolor=CRITICAL_EDGE if critical else colour,
                linewidth=1.6 if critical else 0.4,
            )
        if failures:
            axes.plot(
                [x for _, x in failures],
                [y for y, _ in failures],
                linestyle="none",
                marker="|",
                markersize=11,
                markeredgewidth=1.6,
                color=FAILED,
            )
        axes.set_yticks(range(len(rows)), [label for label, *_ in rows])
        axes.set_ylim(len(rows) - 0.4, -0.6)
        axes.set_xlabel(unit_label)
        axes.grid(axis="x", color="#dddddd", linewidth=0.6)
        axes.set_axisbelow(True)
        axes.axvline(0, color=INCIDENT, linewidth=1.4)
        axes.annotate(
            "incident",
            (0, 1),
            xycoords=("data", "axes fraction"),
            xytext=(3, 2),
            textcoords="offset points",
            color=INCIDENT,
            fontsize=8,
            va="bottom",
        )
        for app in view.apps:
            if app.healthy_at is not None:
                x = _offset(app.healthy_at, origin, unit)
                axes.axvline(x, color=HEALTHY, linewidth=1.2, linestyle="--")
                axes.annotate(
                    f"{app.name} healthy",
                    (x, 1),
                    xycoords=("data", "axes fraction"),
                    xytext=(3, 2),
                    textcoords="offset points",
                    color=HEALTHY,
                    fontsize=8,
                    va="bottom",
                )
        legend: list[Artist] = [Patch(color=colour, label=phase.value) for phase, colour in PHASE_COLOURS.items()]
        legend += [
            Patch(color=FAILED, label="failed"),
            Patch(color=SKIPPED, label="skipped"),
            Patch(facecolor="white", edgecolor=CRITICAL_EDGE, linewidth=1.6, label="measured critical path"),
            Line2D([], [], color=INCIDENT, label="incident"),
            Line2D([], [], color=HEALTHY, linestyle="--", label="app healthy"),
        ]
        figure.legend(handles=legend, loc="outside lower center", ncols=4, frameon=False, fontsize=8)
        return finish_chart(figure, "timeline")


@dataclass(frozen=True)
class TrendPoint:
    """One run on the trend chart."""

    label: str
    rto_s: float | None
    rpo_s: float | None
    current: bool  # the run this report is about


def trend_chart(points: Sequence[TrendPoint], rto_objective_s: float | None, rpo_objective_s: float | None) -> Chart:
    """Worst RTO and worst measured RPO of each run of the series, this run circled, objectives dashed."""
    values = [v for p in points for v in (p.rto_s, p.rpo_s) if v is not None] + [
        v for v in (rto_objective_s, rpo_objective_s) if v is not None
    ]
    unit, unit_name = (60.0, "minutes") if max(values, default=0.0) <= 3 * 3600 else (3600.0, "hours")
    with matplotlib.rc_context(CHART_STYLE):
        figure = Figure(figsize=(10, 4.2), layout="constrained")
        rto_axes, rpo_axes = figure.subplots(1, 2)
        xs = list(range(len(points)))
        panels = (
            (rto_axes, [p.rto_s for p in points], rto_objective_s, "RTO (worst application)"),
            (rpo_axes, [p.rpo_s for p in points], rpo_objective_s, "RPO measured (worst application)"),
        )
        for axes, series, objective, title in panels:
            known = [(x, v) for x, v in zip(xs, series, strict=True) if v is not None]
            if known:
                axes.plot([x for x, _ in known], [v / unit for _, v in known], marker="o", color="#2f6fb0", linewidth=1.4)
                for x, v in known:
                    if points[x].current:
                        axes.plot([x], [v / unit], marker="o", markersize=10, color="#111111", fillstyle="none")
            if objective is not None:
                axes.axhline(objective / unit, color=INCIDENT, linestyle="--", linewidth=1.1, label="objective")
                axes.legend(frameon=False, fontsize=8, loc="upper left")
            axes.set_title(title, fontsize=9)
            axes.set_ylabel(unit_name)
            axes.set_ylim(bottom=0)
            axes.set_xticks(xs, [p.label for p in points], rotation=30, ha="right", fontsize=7)
            axes.grid(axis="y", color="#dddddd", linewidth=0.6)
        return finish_chart(figure, "trend")
