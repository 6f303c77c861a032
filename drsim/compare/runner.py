"""Run a comparison end to end: trials on an executor, frames, ranking, and the files of the out dir."""

from __future__ import annotations

import signal
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from drsim.compare.executors import ExecutorKind, Progress, TrialsInterrupted, outcomes_in_background, run_outcomes
from drsim.compare.fast_run import (
    DEFAULT_VALIDATE,
    ModelChoice,
    ModelReport,
    choose,
    fast_outcomes,
    validate_against_engine,
    validation_inputs,
)
from drsim.compare.inputs import ComparisonInputs, prepare
from drsim.compare.trials import TrialOutcome, worker_documents
from drsim.errors import AbortedError
from drsim.model.types import format_duration
from drsim.report.text import plural
from drsim.times import utc_text

if TYPE_CHECKING:
    import pandas as pd

    from drsim.compare.report import Charts

# pandas, the charts and the report templates are imported where they are used, not above: a fast
# comparison starts its engine validation on the workers first, and imports them while they run.


@dataclass(frozen=True)
class ComparisonResult:
    """The frames of a finished comparison (pandas all the way)."""

    inputs: ComparisonInputs
    trials: pd.DataFrame  # one row per candidate, trial and app (analysis.TRIAL_COLUMNS)
    ranking: pd.DataFrame  # one row per candidate, in rank order
    summary: pd.DataFrame  # one row per candidate and app, in rank order (comparison.csv)
    causes: pd.DataFrame  # one row per candidate, failed trial and cause (analysis.CAUSE_COLUMNS)
    requested_trials: int | None = None  # set when interrupted: the trials asked for (inputs.trials were finished)
    model: ModelReport | None = None  # which model ran the trials and, for the fast model, its check (None: engine)
    charts: Charts | None = None  # the charts of these frames, rendered ahead (the fast model's, during its validation)

    @property
    def partial(self) -> bool:
        return self.requested_trials is not None

    @property
    def winner(self) -> str | None:
        """The best-ranked candidate that meets every objective in >= 95 % of trials, if any."""
        qualified = self.ranking[self.ranking["qualifies"]]
        return str(qualified.iloc[0]["candidate"]) if len(qualified) else None


def monthly_costs(inputs: ComparisonInputs) -> dict[str, float]:
    """Each candidate's monthly protection cost, from the simulated world's cost model and price catalog."""
    from drsim.cloud.sim.catalog import default_catalog
    from drsim.cloud.sim.costs import monthly_protection_cost

    documents = worker_documents(inputs)
    catalog = default_catalog()
    return {c.name: monthly_protection_cost(documents.estate.doc, c.plan.doc, catalog).total for c in documents.candidates}


def comparison_result(inputs: ComparisonInputs, outcomes: list[TrialOutcome], *, requested_trials: int | None = None) -> ComparisonResult:
    """The frames, ranking and summary of the outcomes of every candidate in every one of `inputs.trials` trials."""
    from drsim.compare.analysis import causes_frame, rank_candidates, summarize, trials_frame

    names = [c.name for c in inputs.candidates]
    trials = trials_frame(outcomes, names)
    ranking = rank_candidates(trials, monthly_costs(inputs), names, inputs.trials)
    return ComparisonResult(inputs, trials, ranking, summarize(trials, ranking), causes_frame(outcomes, names), requested_trials)


def partial_comparison(inputs: ComparisonInputs, outcomes: list[TrialOutcome]) -> ComparisonResult | None:
    """The comparison of the trials every candidate finished before an interruption (candidates are
    compared on the same incidents, so a trial only some finished is left out); None when none did."""
    names = {c.name for c in inputs.candidates}
    done: dict[int, set[str]] = {}
    for outcome in outcomes:
        done.setdefault(outcome.trial, set()).add(outcome.candidate)
    complete = sorted(trial for trial, finished in done.items() if finished == names)
    if not complete:
        return None
    kept = [o for o in outcomes if o.trial in set(complete)]
    return comparison_result(replace(inputs, trials=len(complete)), kept, requested_trials=inputs.trials)


def run_comparison(
    inputs: ComparisonInputs,
    *,
    executor: ExecutorKind = ExecutorKind.LOCAL,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
    model: ModelChoice = ModelChoice.ENGINE,
    validate: int = DEFAULT_VALIDATE,
) -> ComparisonResult:
    """Every candidate through every trial, then the per-trial frame, the ranking and the summary.
    `model`: the engine, the fast model (checked against `validate` engine trials per candidate), or
    auto (fast when every candidate's runbook uses only what it supports; see fast_run)."""
    used, missing = choose(inputs, model)
    if used == "fast":
        return _fast_comparison(inputs, model, validate, executor=executor, workers=workers, scheduler=scheduler, progress=progress)
    outcomes = run_outcomes(inputs, executor=executor, workers=workers, scheduler=scheduler, progress=progress)
    return replace(comparison_result(inputs, outcomes), model=ModelReport(model, "engine", missing, 0, 0))


def _fast_comparison(
    inputs: ComparisonInputs,
    model: ModelChoice,
    validate: int,
    *,
    executor: ExecutorKind,
    workers: int | None,
    scheduler: str | None,
    progress: Progress | None,
) -> ComparisonResult:
    """The fast model (drsim.compare.fast), then its check against the engine at the same incidents.

    The engine's validation trials start first, on the local pool where there is one, and run while
    this process runs the fast model and builds its frames: the whole takes about as long as the
    validation alone."""
    subset = validation_inputs(inputs, validate)
    with ExitStack() as stack:
        collect = None
        if subset is not None:
            collect = stack.enter_context(outcomes_in_background(subset, executor=executor, workers=workers, scheduler=scheduler))
            if isinstance(progress, BarProgress):  # the bar counts the engine's validation drills too
                progress.add(subset.trials * len(subset.candidates))
        from drsim.compare.analysis import trials_frame
        from drsim.compare.report import comparison_charts

        result = comparison_result(inputs, fast_outcomes(inputs))
        if progress is not None:
            progress(inputs.trials * len(inputs.candidates))
        # The charts show the fast trials only: rendered while the validation runs, not after it.
        result = replace(result, charts=comparison_charts(inputs, result.trials, result.ranking))

        def engine(_: ComparisonInputs) -> list[TrialOutcome]:
            assert collect is not None  # validate_against_engine asks only when there is a subset
            return collect(progress)

        validated, found, engine_trials, interrupted = validate_against_engine(inputs, result.trials, validate, engine, trials_frame)
    report = ModelReport(model, "fast", {}, min(validate, inputs.trials), validated, found, engine_trials, interrupted)
    return replace(result, model=report)


def default_out_dir(inputs: ComparisonInputs) -> Path:
    return Path("reports") / inputs.name


def is_terminal(stream: TextIO) -> bool:
    """Whether a person watches this stream (a bar in a log or a pipe would be noise)."""
    return stream.isatty()


@contextmanager
def progress_bar(total: int, *, enabled: bool, stream: TextIO | None = None) -> Iterator[Progress | None]:
    """A rich progress bar (drills done of all, rate, elapsed, ETA) on stderr while trials run, when
    enabled and stderr is a terminal; nothing otherwise (a log or a pipe stays clean)."""
    stream = stream if stream is not None else sys.stderr
    if not enabled or not is_terminal(stream):
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, ProgressColumn, Task, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    from rich.progress import Progress as Bar
    from rich.text import Text

    class _Rate(ProgressColumn):
        """Simulated drills per second, over the whole run so far (steadier than rich's recent-speed window)."""

        def render(self, task: Task) -> Text:
            elapsed = task.elapsed
            if not elapsed or not task.completed:
                return Text("- drills/s")
            return Text(f"{task.completed / elapsed:,.1f} drills/s")

    columns = (
        TextColumn("simulated drills"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Bar(*columns, console=Console(file=stream, force_terminal=True), transient=True) as bar:
        yield BarProgress(bar, bar.add_task("drills", total=total))


class BarProgress:
    """The bar's Progress: advances it by the candidate-trials just finished; `add` counts more drills
    in its total (a fast comparison's engine validation trials, once it knows it runs them)."""

    def __init__(self, bar: Any, task: Any) -> None:
        self._bar, self._task = bar, task

    def __call__(self, done: int) -> None:
        self._bar.advance(self._task, done)

    def add(self, more: int) -> None:
        total = next(t.total for t in self._bar.tasks if t.id == self._task) or 0
        self._bar.update(self._task, total=total + more)


@dataclass
class Stop:
    """What stopped a comparison, for PARTIAL.md: Ctrl-C, unless SIGTERM did."""

    by: str = "Ctrl-C"


@contextmanager
def terminate_as_interrupt() -> Iterator[Stop]:
    """SIGTERM (a service manager, `kill`, a CI timeout) ends a comparison as Ctrl-C does: the workers
    are stopped (not left running with no parent) and the finished trials are written, marked partial."""
    stop = Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def interrupt(signum: int, frame: object) -> None:
        stop.by = "SIGTERM"
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGTERM, previous)


def compare(
    path: str,
    *,
    trials: int | None = None,
    seed: int | None = None,
    overrides: tuple[str, ...] = (),
    executor: ExecutorKind = ExecutorKind.LOCAL,
    workers: int | None = None,
    scheduler: str | None = None,
    out_dir: Path | None = None,
    show_progress: bool = True,
    window_end: datetime | None = None,
    today: date | None = None,
    model: ModelChoice = ModelChoice.ENGINE,
    validate: int = DEFAULT_VALIDATE,
) -> tuple[ComparisonResult, list[Path]]:
    """What `drsim compare` does: prepare the inputs, run the trials with a progress bar, write the out dir.

    `today` (the command line's date, UTC) ends the window when neither `window_end` nor the Comparison does.
    """
    inputs = prepare(path, overrides=overrides, trials=trials, seed=seed, window_end=window_end, today=today)
    target = out_dir if out_dir is not None else default_out_dir(inputs)
    try:
        with terminate_as_interrupt() as signalled, progress_bar(inputs.trials * len(inputs.candidates), enabled=show_progress) as progress:
            result = run_comparison(
                inputs, executor=executor, workers=workers, scheduler=scheduler, progress=progress, model=model, validate=validate
            )
    except TrialsInterrupted as stop:
        from drsim.compare.outputs import PARTIAL, write_outputs

        partial = partial_comparison(inputs, stop.outcomes)
        if partial is None:
            raise AbortedError("the comparison was interrupted before any trial finished; nothing was written") from None
        written = write_outputs(partial, target, interrupted_by=signalled.by)
        raise AbortedError(
            f"the comparison was interrupted: {partial.inputs.trials} of {inputs.trials} trials finished for every candidate; "
            f"wrote them, marked partial ({target / PARTIAL}): {', '.join(str(p) for p in written if p.parent == target)}"
        ) from None
    except KeyboardInterrupt:
        raise AbortedError("the comparison was interrupted; nothing was written") from None
    from drsim.compare.outputs import PARTIAL, write_outputs

    written = write_outputs(result, target)
    if result.model is not None and result.model.interrupted:  # the fast trials are whole; their check by the engine is not
        note = target / PARTIAL
        note.write_text(
            f"# Partial comparison\n\nInterrupted ({signalled.by}) while the engine checked the fast model: {result.model.validated} of "
            f"{result.model.validate} validation trials had finished for every candidate. The fast model's trials beside this "
            "file are whole; validation.csv compares them with the validation trials that finished.\n",
            encoding="utf-8",
        )
        raise AbortedError(
            f"the comparison was interrupted during its validation: {result.model.validated} of {result.model.validate} engine "
            f"trials finished for every candidate; wrote the fast comparison, marked partial ({note}): "
            + ", ".join(str(p) for p in written if p.parent == target)
        )
    return result, written


def ranking_table(result: ComparisonResult, width: int | None = None) -> str:
    """The ranking as a plain-text table for the terminal; in a mixed comparison, with what each candidate faced.
    Where the table would be wider than `width` (the terminal's columns), a block per candidate instead."""
    from drsim.compare.report import human_duration, money, percent

    inputs = result.inputs
    faced = {c.name: c.faced for c in inputs.candidates}
    failed = result.causes.groupby("candidate")["trial"].nunique().to_dict() if len(result.causes) else {}
    header: tuple[str, ...] = (
        "rank",
        "candidate",
        "all met",
        "failed",
        "qualifies",
        "protection/month",
        "one drill",
        "p95 RTO",
        "p95 RPO",
        "Pareto",
    )
    if inputs.mixed:
        header += ("incident", "objectives")
    rows = [header]
    for r in result.ranking.itertuples(index=False):
        row: tuple[str, ...] = (
            str(r.rank),
            str(r.candidate),
            percent(r.all_met_share),
            percent(failed.get(r.candidate, 0) / inputs.trials),
            "yes" if r.qualifies else "no",
            money(r.monthly_cost),
            money(r.drill_cost),
            human_duration(r.rto_p95_s),
            human_duration(r.rpo_p95_s),
            "yes" if r.pareto else "",
        )
        if inputs.mixed:
            row += (faced[str(r.candidate)].incident, faced[str(r.candidate)].objectives)
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    table = "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)
    if width is not None and sum(widths) + 2 * (len(widths) - 1) > width:
        blocks = []
        for row in rows[1:]:
            cells = dict(zip(header, row, strict=True))
            lines = [
                f"{cells['rank']}. {cells['candidate']}: "
                + ("qualifies" if cells["qualifies"] == "yes" else "does not qualify")
                + (", on the Pareto front" if cells["Pareto"] else ""),
                f"all objectives met in {cells['all met']} of trials, trials with a failure {cells['failed']}",
                f"p95 RTO {cells['p95 RTO']}, p95 RPO {cells['p95 RPO']}",
                f"protection {cells['protection/month']}/month, one drill {cells['one drill']}",
            ]
            if inputs.mixed:
                lines.append(f"faced {cells['incident']}; {cells['objectives']}")
            blocks.append(
                "\n".join(
                    textwrap.fill(
                        line,
                        width,
                        subsequent_indent="   ",
                        initial_indent="" if i == 0 else "   ",
                        break_long_words=False,
                        break_on_hyphens=False,
                    )
                    for i, line in enumerate(lines)
                )
            )
        table = "\n".join(blocks)
        return f"{table}\n{textwrap.fill(window_line(inputs), width, break_long_words=False, break_on_hyphens=False)}"
    return f"{table}\n{window_line(inputs)}"


def window_line(inputs: ComparisonInputs) -> str:
    """Which trials these were, for the terminal (the files say it too)."""
    end = utc_text(inputs.window_end, "seconds")
    defaulted = " (today 00:00 UTC: the Comparison sets no window_end)" if inputs.window_end_defaulted else ""
    if inputs.mixed:
        judged = "mixed: the candidates face different incidents or objectives (what each faced is shown with it)"
    elif inputs.stated:
        judged = f"like for like: {' and '.join(inputs.stated)} stated by the Comparison"
    else:
        judged = "like for like: every runbook has the same scenario and objectives"
    window = format_duration(inputs.window)
    return f"{plural(inputs.trials, 'trial')}, incidents over {window} ending {end}{defaulted}, seed {inputs.seed}; {judged}"
