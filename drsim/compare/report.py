"""report.md and report.html of a comparison: ranking table, per-app table, ECDF and cost charts.

Markdown links the charts as SVG files written beside it; the HTML inlines them and its CSS, so it
is one self-contained file with no network access. drsim/report (the drill reporter) had not landed
when this was written, so these templates and charts are the comparison's own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from drsim.compare.analysis import QUALIFYING_SHARE, per_trial_worst
from drsim.compare.charts import cost_scatter_svg, ecdf_svg
from drsim.compare.inputs import ComparisonInputs
from drsim.model.types import format_duration

RTO_CHART = "ecdf-rto.svg"
RPO_CHART = "ecdf-rpo.svg"
COST_CHART = "cost-vs-p95.svg"


def human_duration(seconds: object) -> str:
    """`3h05m`, `12m30s`, `42s`; `never` for a trial that was not recovered (+inf), `—` when not measured."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)) or seconds is pd.NA:
        return "—"
    value = float(seconds)  # type: ignore[arg-type]
    if math.isinf(value):
        return "never"
    if value < 60:
        return f"{value:.0f}s"
    minutes = round(value / 60)
    if value < 3600:
        whole, rest = divmod(round(value), 60)
        return f"{whole}m{rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def percent(share: object) -> str:
    if share is None or share is pd.NA or (isinstance(share, float) and math.isnan(share)):
        return "—"
    return f"{float(share) * 100:.1f} %"  # type: ignore[arg-type]


def usd(amount: object) -> str:
    if amount is None or amount is pd.NA or (isinstance(amount, float) and math.isnan(amount)):
        return "—"
    return f"${float(amount):,.2f}"  # type: ignore[arg-type]


@dataclass(frozen=True)
class Charts:
    rto_svg: Markup
    rpo_svg: Markup
    cost_svg: Markup
    rto_file: str = RTO_CHART
    rpo_file: str = RPO_CHART
    cost_file: str = COST_CHART


@dataclass(frozen=True)
class CandidateRow:
    name: str
    plan: str
    runbook: str


@dataclass(frozen=True)
class ReportContext:
    """Everything the two templates show."""

    name: str
    description: str | None
    estate: str
    trials: int
    window: str
    window_end: str
    window_end_defaulted: bool
    seed: int
    overrides: tuple[str, ...]
    qualifying_share: float
    ranking: list[Any]  # rows of the ranking frame (named tuples)
    summary: list[Any]  # rows of the summary frame (named tuples)
    candidates: list[CandidateRow]
    charts: Charts


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("drsim.compare", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["dur"] = human_duration
    env.filters["pct"] = percent
    env.filters["usd"] = usd
    return env


def report_context(inputs: ComparisonInputs, trials: pd.DataFrame, summary: pd.DataFrame, ranking: pd.DataFrame) -> ReportContext:
    names = [c.name for c in inputs.candidates]
    worst = per_trial_worst(trials)
    charts = Charts(
        rto_svg=Markup(ecdf_svg(worst, "rto_s", names, "RTO per trial (slowest app), ECDF")),
        rpo_svg=Markup(ecdf_svg(worst, "rpo_s", names, "Measured RPO per trial (largest over apps), ECDF")),
        cost_svg=Markup(cost_scatter_svg(ranking, names)),
    )
    return ReportContext(
        name=inputs.name,
        description=inputs.description,
        estate=inputs.estate.path,
        trials=inputs.trials,
        window=format_duration(inputs.window),
        window_end=_iso(inputs.window_end),
        window_end_defaulted=inputs.window_end_defaulted,
        seed=inputs.seed,
        overrides=tuple(text for c in inputs.candidates for text in c.overrides),
        qualifying_share=QUALIFYING_SHARE,
        ranking=list(ranking.itertuples(index=False)),
        summary=list(summary.itertuples(index=False)),
        candidates=[CandidateRow(c.name, c.plan.path, c.runbook.path) for c in inputs.candidates],
        charts=charts,
    )


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_report(context: ReportContext, out_dir: Path) -> list[Path]:
    """Write report.md (with its three SVG charts beside it) and the self-contained report.html."""
    env = _environment()
    written = []
    for file, svg in ((RTO_CHART, context.charts.rto_svg), (RPO_CHART, context.charts.rpo_svg), (COST_CHART, context.charts.cost_svg)):
        path = out_dir / file
        path.write_text(str(svg) + "\n", encoding="utf-8")
        written.append(path)
    for template, file in (("report.md.j2", "report.md"), ("report.html.j2", "report.html")):
        path = out_dir / file
        path.write_text(env.get_template(template).render(c=context), encoding="utf-8")
        written.append(path)
    return written
