"""report.md and report.html of a comparison: ranking table, per-app table, ECDF and cost charts.

Built on the drill reporter's pieces (drsim.report): its value formats (text.duration, text.usd),
its Markdown escaping, its stylesheet and its chart finishing. Markdown links the charts as SVG
files written beside it; the HTML inlines them and the CSS: one self-contained file, no network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from drsim.compare.analysis import QUALIFYING_SHARE, per_trial_worst
from drsim.compare.charts import cost_scatter_chart, ecdf_chart
from drsim.compare.fast_run import ModelReport
from drsim.compare.fast_validate import pvalue_text
from drsim.compare.inputs import ComparisonInputs
from drsim.model.types import format_duration
from drsim.report.charts import Chart
from drsim.report.text import escape_markdown, plural, usd
from drsim.times import ROUNDING_NOTE, duration, utc_text

RTO_CHART = "ecdf-rto"
RPO_CHART = "ecdf-rpo"
COST_CHART = "cost-vs-p95"


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def human_duration(seconds: object) -> str:
    """As drill reports write durations (`2h 05m`); `never` for a trial not recovered (+inf), `—` when not measured."""
    if _missing(seconds):
        return "—"
    value = float(seconds)  # type: ignore[arg-type]
    return "never" if math.isinf(value) else duration(value)


def _measure(value: object, measure: str) -> str:
    """A validation median: a duration for rto and rpo, USD for the drill's cost."""
    return money(value) if measure == "cost" else human_duration(value)


def percent(share: object) -> str:
    return "—" if _missing(share) else f"{float(share) * 100:.1f} %"  # type: ignore[arg-type]


def money(amount: object) -> str:
    return "—" if _missing(amount) else usd(float(amount))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Charts:
    rto: Chart
    rpo: Chart
    cost: Chart

    def all(self) -> tuple[Chart, ...]:
        return (self.rto, self.rpo, self.cost)


@dataclass(frozen=True)
class CandidateRow:
    name: str
    plan: str
    runbook: str
    incident: str  # what it faced
    objectives: str  # what it was judged against
    failed_share: float  # share of its trials that failed (an objective missed or the drill not passed)


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
    stated: tuple[str, ...]  # what the Comparison states for every candidate (scenario, objectives)
    mixed: bool  # the candidates face different incidents or objectives (labelled everywhere)
    incident: str  # what every candidate faces, when they all face the same
    objectives: str
    faced: dict[str, str]  # candidate -> its label with what it faced (mixed) or its name
    requested_trials: int | None  # an interrupted comparison: the trials asked for
    qualifying_share: float
    winner: str | None  # the best-ranked qualifying candidate
    ranking: list[Any]  # rows of the ranking frame (named tuples)
    summary: list[Any]  # rows of the summary frame (named tuples)
    candidates: list[CandidateRow]
    failures: list[Any]  # rows of the failures frame (compare.failures)
    charts: Charts
    model: ModelSection | None = None  # which model ran the trials, and the fast model's check (fast_run)


@dataclass(frozen=True)
class ModelSection:
    """The report's "Model" section: the model used and, for the fast model, its agreement with the engine."""

    summary: str
    used: str
    validated: int
    agreements: list[Any]  # fast_validate.Agreement
    warnings: list[str]


def _environment(markdown: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("drsim.compare", "templates"),
        autoescape=not markdown,
        finalize=escape_markdown if markdown else None,  # every value a Markdown template prints is escaped
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(dur=human_duration, pct=percent, usd=money)
    env.filters.update(measure=_measure, pvalue=pvalue_text)
    env.globals["rounding_note"] = Markup(ROUNDING_NOTE)  # fixed words: nothing to escape
    return env


def _labels(inputs: ComparisonInputs) -> dict[str, str]:
    """What each candidate faced, in a mixed comparison (its name says enough otherwise)."""
    return {c.name: f"{c.name}: {c.faced.incident}; {c.faced.objectives}" for c in inputs.candidates} if inputs.mixed else {}


def comparison_charts(inputs: ComparisonInputs, trials: pd.DataFrame, ranking: pd.DataFrame) -> Charts:
    """The three charts of a comparison's trials (analysis.TRIAL_COLUMNS) and ranking."""
    names = [c.name for c in inputs.candidates]
    worst = per_trial_worst(trials)
    labels = _labels(inputs)
    note = f"{plural(inputs.trials, 'trial')}, incidents over {format_duration(inputs.window)} ending {_iso(inputs.window_end)}"
    if not inputs.mixed:
        first = inputs.candidates[0].faced
        note += f"; every candidate: {first.incident}; objectives {first.objectives}"
    return Charts(
        rto=ecdf_chart(
            worst, "rto_s", names, "RTO per trial (slowest app): share of trials recovered within x", RTO_CHART, labels=labels, note=note
        ),
        rpo=ecdf_chart(
            worst, "rpo_s", names, "Measured RPO per trial (most data lost over apps): share within x", RPO_CHART, labels=labels, note=note
        ),
        cost=cost_scatter_chart(ranking, names, COST_CHART, labels=labels, note=note),
    )


def report_context(
    inputs: ComparisonInputs,
    trials: pd.DataFrame,
    summary: pd.DataFrame,
    ranking: pd.DataFrame,
    failures: pd.DataFrame,
    *,
    requested_trials: int | None = None,
    model: ModelReport | None = None,
    charts: Charts | None = None,
) -> ReportContext:
    """What the templates show; `charts`: the ones `comparison_charts` rendered already for these frames
    (None: rendered here)."""
    names = [c.name for c in inputs.candidates]
    faced = {c.name: c.faced for c in inputs.candidates}
    labels = _labels(inputs)
    if charts is None:
        charts = comparison_charts(inputs, trials, ranking)
    failed = failures.groupby("candidate")["failed_trials"].first().to_dict() if len(failures) else {}
    first_faced = next(iter(faced.values()))
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
        stated=inputs.stated,
        mixed=inputs.mixed,
        incident=first_faced.incident,
        objectives=first_faced.objectives,
        faced={name: labels.get(name, name) for name in names},
        requested_trials=requested_trials,
        qualifying_share=QUALIFYING_SHARE,
        winner=str(ranking.loc[ranking["qualifies"], "candidate"].iloc[0]) if ranking["qualifies"].any() else None,
        ranking=list(ranking.itertuples(index=False)),
        summary=list(summary.itertuples(index=False)),
        candidates=[
            CandidateRow(
                c.name,
                c.plan.path,
                c.runbook.path,
                c.faced.incident,
                c.faced.objectives,
                int(failed.get(c.name, 0)) / inputs.trials if inputs.trials else math.nan,
            )
            for c in inputs.candidates
        ],
        failures=list(failures.itertuples(index=False)),
        charts=charts,
        model=ModelSection(model.summary, model.used, model.validated, list(model.agreements), model.warnings)
        if model is not None
        else None,
    )


def _iso(moment: datetime) -> str:
    return utc_text(moment, "seconds")


def write_report(context: ReportContext, out_dir: Path) -> list[Path]:
    """Write the three SVG charts, report.md (which links them) and the self-contained report.html."""
    written = []
    for chart in context.charts.all():
        path = out_dir / f"{chart.name}.svg"
        path.write_text(chart.svg, encoding="utf-8")
        written.append(path)
    markdown = _environment(markdown=True).get_template("report.md.j2").render(c=context)
    css = files("drsim.report").joinpath("templates/report.css").read_text(encoding="utf-8")
    html = (
        _environment(markdown=False)
        .get_template("report.html.j2")
        .render(c=context, css=Markup(css), inline={chart.name: Markup(chart.inline) for chart in context.charts.all()})
    )
    for file, text in (("report.md", markdown), ("report.html", html)):
        path = out_dir / file
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
