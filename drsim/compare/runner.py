"""Run a comparison end to end: trials on an executor, frames, ranking, and the files of the out dir."""

from __future__ import annotations

import gzip
import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from drsim.compare.analysis import rank_candidates, summarize, trials_frame
from drsim.compare.executors import ExecutorKind, Progress, TrialsInterrupted, run_outcomes
from drsim.compare.fast_run import (
    DEFAULT_VALIDATE,
    ModelChoice,
    ModelReport,
    choose,
    fast_run,
    timeout_fallback,
    validate_against_engine,
)
from drsim.compare.inputs import ComparisonInputs, prepare
from drsim.compare.report import human_duration, money, percent, report_context, write_report
from drsim.compare.trials import TrialOutcome, worker_documents
from drsim.errors import AbortedError, ExecutionError


@dataclass(frozen=True)
class ComparisonResult:
    """The frames of a finished comparison (pandas all the way)."""

    inputs: ComparisonInputs
    trials: pd.DataFrame  # one row per candidate, trial and app (analysis.TRIAL_COLUMNS)
    ranking: pd.DataFrame  # one row per candidate, in rank order
    summary: pd.DataFrame  # one row per candidate and app, in rank order (comparison.csv)
    model: ModelReport | None = None  # which model ran the trials and, for the fast model, its check (None: engine)

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


PARTIAL = "PARTIAL.md"
"""Written beside the outputs of a comparison interrupted by Ctrl-C (and removed by a whole one)."""


def _result(inputs: ComparisonInputs, outcomes: list[TrialOutcome]) -> ComparisonResult:
    names = [c.name for c in inputs.candidates]
    trials = trials_frame(outcomes, names)
    ranking = rank_candidates(trials, monthly_costs(inputs), names, inputs.trials)
    return ComparisonResult(inputs, trials, ranking, summarize(trials, ranking))


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
    return _result(replace(inputs, trials=len(complete)), kept)


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
    auto (fast when every candidate's runbook uses only what it supports)."""
    used, missing = choose(inputs, model)
    fast: list[TrialOutcome] = []
    timed_out: dict[str, float] = {}
    if used == "fast":
        fast, timed_out = fast_run(inputs)
        if model is ModelChoice.AUTO and timeout_fallback(timed_out):
            used, missing = "engine", timeout_fallback(timed_out)  # where timeouts decide, the engine does
    if used == "engine":
        outcomes = run_outcomes(inputs, executor=executor, workers=workers, scheduler=scheduler, progress=progress)
        return replace(_result(inputs, outcomes), model=ModelReport(model, "engine", missing, 0, 0))
    # --- the fast model (drsim.compare.fast), then its check against the engine at the same incidents
    result = _result(inputs, fast)
    if progress is not None:
        progress(inputs.trials * len(inputs.candidates))

    def engine(subset: ComparisonInputs) -> list[TrialOutcome]:
        return run_outcomes(subset, executor=executor, workers=workers, scheduler=scheduler)

    validated, found, engine_trials, interrupted = validate_against_engine(
        inputs, result.trials, validate, engine, lambda outcomes, names: trials_frame(outcomes, names)
    )
    report = ModelReport(model, "fast", {}, validate, validated, found, engine_trials, interrupted, timed_out)
    return replace(result, model=report)


def default_out_dir(inputs: ComparisonInputs) -> Path:
    return Path("reports") / inputs.name


def trials_csv(trials: pd.DataFrame) -> str:
    """The per-trial frame as CSV text, times as ISO 8601 UTC."""
    shown = trials.assign(incident_at=trials["incident_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return str(shown.to_csv(index=False, lineterminator="\n"))


def write_outputs(result: ComparisonResult, out_dir: Path) -> list[Path]:
    """comparison.csv, trials.csv.gz, report.md (with its SVG charts) and report.html; same frames, same bytes."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        summary_path = out_dir / "comparison.csv"
        model = result.model.used if result.model is not None else "engine"
        summary_path.write_text(result.summary.assign(model=model).to_csv(index=False, lineterminator="\n"), encoding="utf-8")
        trials_path = out_dir / "trials.csv.gz"
        _write_gzip(trials_path, trials_csv(result.trials.assign(model=model)))
        written = [summary_path, trials_path, *_write_validation(result, out_dir)]
        context = report_context(result.inputs, result.trials, result.summary, result.ranking, model=result.model)
        return [*written, *write_report(context, out_dir)]
    except OSError as exc:
        raise ExecutionError(f"cannot write the comparison to {out_dir}: {exc.strerror or exc}") from None


def _write_gzip(path: Path, text: str) -> None:
    buffer = io.BytesIO()
    # mtime=0 and no file name in the header: the archive depends on the data only.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as archive:
        archive.write(text.encode("utf-8"))
    path.write_bytes(buffer.getvalue())


VALIDATION = "validation.csv"
VALIDATION_TRIALS = "validation-trials.csv.gz"


def _write_validation(result: ComparisonResult, out_dir: Path) -> list[Path]:
    """A fast comparison's check against the engine: validation.csv (per candidate and measure) and the
    engine's validation trials; an engine comparison removes old ones."""
    paths = [out_dir / VALIDATION, out_dir / VALIDATION_TRIALS]
    report = result.model
    if report is None or report.used != "fast":
        for path in paths:
            path.unlink(missing_ok=True)
        return []
    paths[0].write_text(report.frame().to_csv(index=False, lineterminator="\n"), encoding="utf-8")
    if report.validation_trials is None:
        paths[1].unlink(missing_ok=True)
        return paths[:1]
    _write_gzip(paths[1], trials_csv(report.validation_trials.assign(model="engine")))
    return paths


@contextmanager
def progress_bar(total: int, *, enabled: bool) -> Iterator[Progress | None]:
    """A rich progress bar on stderr while trials run, when enabled and stderr is a terminal."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = (TextColumn("simulated drills"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("drills", total=total)
        yield lambda done: bar.advance(task, done)


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
    model: ModelChoice = ModelChoice.ENGINE,
    validate: int = DEFAULT_VALIDATE,
) -> tuple[ComparisonResult, list[Path]]:
    """What `drsim compare` does: prepare the inputs, run the trials with a progress bar, write the out dir."""
    inputs = prepare(path, overrides=overrides, trials=trials, seed=seed)
    try:
        with progress_bar(inputs.trials * len(inputs.candidates), enabled=show_progress) as progress:
            result = run_comparison(
                inputs, executor=executor, workers=workers, scheduler=scheduler, progress=progress, model=model, validate=validate
            )
    except TrialsInterrupted as stop:
        partial = partial_comparison(inputs, stop.outcomes)
        if partial is None:
            raise AbortedError("the comparison was interrupted before any trial finished; nothing was written") from None
        target = out_dir if out_dir is not None else default_out_dir(inputs)
        written = write_outputs(partial, target)
        note = target / PARTIAL
        note.write_text(
            f"# Partial comparison\n\nInterrupted (Ctrl-C) after {partial.inputs.trials} of {inputs.trials} trials had finished for "
            "every candidate. The outputs beside this file rank the candidates on those trials only; run the comparison again "
            "for all of them.\n",
            encoding="utf-8",
        )
        raise AbortedError(
            f"the comparison was interrupted: {partial.inputs.trials} of {inputs.trials} trials finished for every candidate; "
            f"wrote them, marked partial ({note}): {', '.join(str(p) for p in written)}"
        ) from None
    except KeyboardInterrupt:
        raise AbortedError("the comparison was interrupted; nothing was written") from None
    target = out_dir if out_dir is not None else default_out_dir(inputs)
    (target / PARTIAL).unlink(missing_ok=True)  # a whole comparison replaces a partial one
    written = write_outputs(result, target)
    if result.model is not None and result.model.interrupted:  # the fast trials are whole; their check by the engine is not
        note = target / PARTIAL
        note.write_text(
            f"# Partial comparison\n\nInterrupted (Ctrl-C) while the engine checked the fast model: {result.model.validated} of "
            f"{result.model.validate} validation trials had finished for every candidate. The fast model's trials beside this "
            "file are whole; validation.csv compares them with the validation trials that finished.\n",
            encoding="utf-8",
        )
        raise AbortedError(
            f"the comparison was interrupted during its validation: {result.model.validated} of {result.model.validate} engine "
            f"trials finished for every candidate; wrote the fast comparison, marked partial ({note}): "
            + ", ".join(str(p) for p in written)
        )
    return result, written


def ranking_table(result: ComparisonResult) -> str:
    """The ranking as a plain-text table for the terminal."""
    header = ("rank", "candidate", "all met", "qualifies", "protection/month", "one drill", "p95 RTO", "p95 RPO", "Pareto")
    rows = [header] + [
        (
            str(r.rank),
            str(r.candidate),
            percent(r.all_met_share),
            "yes" if r.qualifies else "no",
            money(r.monthly_cost),
            money(r.drill_cost),
            human_duration(r.rto_p95_s),
            human_duration(r.rpo_p95_s),
            "yes" if r.pareto else "",
        )
        for r in result.ranking.itertuples(index=False)
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)
