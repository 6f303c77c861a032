"""The files of a comparison's out dir, each written from the result's frames: the same result, the same bytes.

comparison.csv (per candidate and app), failures.csv (why trials failed), trials.csv.gz (per trial),
comparison.json (the ranking, machine-readable), report.md / report.html with their SVG charts,
replay/ (the documents each candidate ran, and a Drill that replays any of its trials) and, for an
interrupted comparison, PARTIAL.md. Every one of them says which window end was used.
"""

from __future__ import annotations

import gzip
import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml

from drsim.compare.failures import REPLAY_DIR, failures_frame, replay_drill
from drsim.compare.inputs import ComparisonInputs
from drsim.compare.report import report_context, write_report
from drsim.errors import ExecutionError
from drsim.model.documents import API_VERSION
from drsim.model.types import format_duration
from drsim.times import utc_text

if TYPE_CHECKING:
    from drsim.compare.runner import ComparisonResult

PARTIAL = "PARTIAL.md"
"""Written beside the outputs of a comparison interrupted by Ctrl-C or SIGTERM (and removed by a whole one)."""


def window_end_text(inputs: ComparisonInputs) -> str:
    return utc_text(inputs.window_end, "seconds")


# The figures of the CSV files (and comparison.json), each at a fixed precision: no float noise such as
# 458.06339999999994, and the same text for the same figure whatever sums led to it.
SECONDS_DIGITS = 3
"""Seconds to the millisecond: drsim measures there (drsim.measure.timeline), so a replayed trial's
result.json has the trial's own figures, and a percentile is one of the trials' values."""
SHARE_DIGITS = 4
"""Fractions of trials (shares, a relative difference, a KS statistic): exact up to 10,000 trials."""
MONTHLY_USD_DIGITS = 2
"""A monthly protection cost, to the cent."""
DRILL_USD_DIGITS = 4
"""One drill's cost, to a hundredth of a cent (a snapshot drill costs about a cent)."""
PVALUE_DIGITS = 4
"""A p-value, to four significant digits (it spans orders of magnitude)."""


def fixed(value: object, digits: int) -> str:
    """A figure with `digits` decimals; `inf` for one never reached; empty when missing; never `-0.000`."""
    if value is None or value is pd.NA:
        return ""
    number = float(value)  # type: ignore[arg-type]
    if math.isnan(number):
        return ""
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    text = f"{number:.{digits}f}"
    return text.lstrip("-") if float(text) == 0 else text


def _significant(value: object, digits: int) -> str:
    if value is None or value is pd.NA or math.isnan(float(value)):  # type: ignore[arg-type]
        return ""
    return f"{float(value):#.{digits}g}"  # type: ignore[arg-type]  # '#': trailing zeros kept (1.000, 0.6751, 3.200e-08)


def _seconds(value: object) -> str:
    return fixed(value, SECONDS_DIGITS)


def _share(value: object) -> str:
    return fixed(value, SHARE_DIGITS)


def _drill_usd(value: object) -> str:
    return fixed(value, DRILL_USD_DIGITS)


def _monthly_usd(value: object) -> str:
    return fixed(value, MONTHLY_USD_DIGITS)


COLUMN_FORMATS = {
    **dict.fromkeys(["rto_s", "rpo_s", "rpo_claimed_s"], _seconds),
    **{f"{m}_{p}_s": _seconds for m in ("rto", "rpo") for p in ("p50", "p90", "p95", "p99", "max")},
    **dict.fromkeys(["share", "rto_met_share", "rpo_met_share", "consistent_share", "all_met_share"], _share),
    **dict.fromkeys(["median_rel_diff", "ks_statistic"], _share),
    "ks_pvalue": lambda value: _significant(value, PVALUE_DIGITS),
    "monthly_cost": _monthly_usd,
    "drill_cost": _drill_usd,
}
"""How each column of a CSV file writes its figures (validation.csv's medians: `_measure_columns`)."""


def _measure_columns(frame: pd.DataFrame) -> dict[str, list[str]]:
    """validation.csv's medians and their difference, in the unit of each row's measure: seconds or USD."""
    digits = [DRILL_USD_DIGITS if m == "cost" else SECONDS_DIGITS for m in frame["measure"]]
    names = ["fast_median", "engine_median", "median_diff", "engine_median_low", "engine_median_high"]
    return {name: [fixed(v, d) for v, d in zip(frame[name], digits, strict=True)] for name in names if name in frame}


def _csv(frame: pd.DataFrame) -> str:
    """A frame as CSV text, every figure at its column's fixed precision (COLUMN_FORMATS)."""
    columns: dict[str, list[str]] = _measure_columns(frame) if "measure" in frame else {}
    for name in frame.columns:
        if name in columns:
            continue
        if name in COLUMN_FORMATS:
            columns[name] = [COLUMN_FORMATS[name](v) for v in frame[name]]
        elif pd.api.types.is_float_dtype(frame[name]):
            raise ValueError(f"column {name} has no fixed precision in drsim.compare.outputs.COLUMN_FORMATS")
    shown = frame.assign(**columns) if columns else frame
    return str(shown.to_csv(index=False, lineterminator="\n"))


def trials_csv(trials: pd.DataFrame, window_end: str | None = None) -> str:
    """The per-trial frame as CSV text, times as ISO 8601 UTC (with the window end as a last column, when given)."""
    shown = trials.assign(incident_at=trials["incident_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    if window_end is not None:
        shown = shown.assign(window_end=window_end)
    return _csv(shown)


def summary_frame(result: ComparisonResult) -> pd.DataFrame:
    """comparison.csv: the summary per candidate and app, with what each candidate faced, the window end
    and the model that ran the trials."""
    faced = {c.name: c.faced for c in result.inputs.candidates}
    summary = result.summary
    return summary.assign(
        incident=summary["candidate"].map(lambda name: faced[name].incident),
        objectives=summary["candidate"].map(lambda name: faced[name].objectives),
        window_end=window_end_text(result.inputs),
        model=model_of(result),
    )


def model_of(result: ComparisonResult) -> str:
    """ "fast" or "engine": which model ran the trials (drsim.compare.fast_run)."""
    return result.model.used if result.model is not None else "engine"


VALIDATION = "validation.csv"
VALIDATION_TRIALS = "validation-trials.csv.gz"


def _gzip(path: Path, text: str) -> None:
    buffer = io.BytesIO()
    # mtime=0 and no file name in the header: the archive depends on the data only.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as archive:
        archive.write(text.encode("utf-8"))
    path.write_bytes(buffer.getvalue())


def write_validation(result: ComparisonResult, out_dir: Path) -> list[Path]:
    """A fast comparison's check against the engine: validation.csv (per candidate and measure) and the
    engine's validation trials; an engine comparison removes old ones."""
    paths = [out_dir / VALIDATION, out_dir / VALIDATION_TRIALS]
    report = result.model
    if report is None or report.used != "fast":
        for path in paths:
            path.unlink(missing_ok=True)
        return []
    paths[0].write_text(_csv(report.frame()), encoding="utf-8")
    if report.validation_trials is None:
        paths[1].unlink(missing_ok=True)
        return paths[:1]
    _gzip(paths[1], trials_csv(report.validation_trials.assign(model="engine"), window_end_text(result.inputs)))
    return paths


def failures_of(result: ComparisonResult, out_dir: Path) -> pd.DataFrame:
    """failures.csv's frame: per candidate (in rank order) and cause, with an example trial and its replay."""
    causes = result.causes
    failed = causes.groupby("candidate")["trial"].nunique() if len(causes) else pd.Series(dtype="int64")
    order = [str(name) for name in result.ranking["candidate"]]
    return failures_frame(causes, failed, result.inputs.trials, order, out_dir)


def _number(value: Any, digits: int) -> float | None:
    """A JSON number at the CSV files' precision (`digits` decimals), or null for a value that is not
    finite (never reached, not measured)."""
    if value is None or value is pd.NA:
        return None
    number = float(value)
    return round(number, digits) + 0.0 if math.isfinite(number) else None  # + 0.0: never -0.0


def comparison_json(result: ComparisonResult, failures: pd.DataFrame) -> str:
    """comparison.json: the ranking with what each candidate faced, the window and the trials; a simulation."""
    inputs = result.inputs
    candidates = {c.name: c for c in inputs.candidates}
    failed = failures.groupby("candidate")["failed_trials"].first().to_dict() if len(failures) else {}
    ranked = []
    for row in result.ranking.itertuples(index=False):
        candidate = candidates[str(row.candidate)]
        ranked.append(
            {
                "rank": int(row.rank),
                "candidate": candidate.name,
                "plan": candidate.plan.path,
                "runbook": candidate.runbook.path,
                "incident": candidate.faced.incident,
                "objectives": candidate.faced.objectives,
                "overrides": list(candidate.overrides),
                "all_met_share": _number(row.all_met_share, SHARE_DIGITS),
                "failed_trials": int(failed.get(candidate.name, 0)),
                "recovers_at_p95": bool(row.recovers),
                "qualifies": bool(row.qualifies),
                "pareto": bool(row.pareto),
                "monthly_cost": _number(row.monthly_cost, MONTHLY_USD_DIGITS),
                "drill_cost": _number(row.drill_cost, DRILL_USD_DIGITS),
                "rto_p95_s": _number(row.rto_p95_s, SECONDS_DIGITS),
                "rpo_p95_s": _number(row.rpo_p95_s, SECONDS_DIGITS),
            }
        )
    winner = result.ranking.loc[result.ranking["qualifies"], "candidate"]
    document = {
        "comparison": inputs.name,
        "simulated": True,
        "trials": inputs.trials,
        "partial": result.partial,
        "requested_trials": result.requested_trials if result.partial else inputs.trials,
        "window": format_duration(inputs.window),
        "window_start": utc_text(inputs.window_start, "seconds"),
        "window_end": window_end_text(inputs),
        "window_end_defaulted": inputs.window_end_defaulted,
        "seed": inputs.seed,
        "stated": list(inputs.stated),
        "mixed": inputs.mixed,
        "winner": str(winner.iloc[0]) if len(winner) else None,
        "model": model_of(result),
        "validation": _validation_summary(result),
        "ranking": ranked,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _validation_summary(result: ComparisonResult) -> dict[str, Any] | None:
    """comparison.json's `validation`: how the fast model's check by the engine went (None: the engine ran
    every trial): engine trials per candidate asked for and run, whether Ctrl-C cut it short, and how
    many measures of validation.csv agree."""
    model = result.model
    if model is None or model.used != "fast":
        return None
    return {
        "requested_trials": model.validate,
        "trials": model.validated,
        "interrupted": model.interrupted,
        "measures": len(model.agreements),
        "agreeing": sum(a.agrees for a in model.agreements),
    }


def _yaml(data: Any, comment: str) -> str:
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=120)
    return f"# {comment}\n{body}"


def write_replay(inputs: ComparisonInputs, out_dir: Path) -> list[Path]:
    """replay/: the estate and, per candidate, the plan and runbook exactly as the trials ran them (the
    Comparison's scenario and objectives and the --set overrides applied), and a Drill over them."""
    root = out_dir / REPLAY_DIR
    root.mkdir(parents=True, exist_ok=True)
    written = [root / "estate.yaml"]
    estate = _yaml(inputs.estate.data, f"The estate of comparison {inputs.name} (from {inputs.estate.path}).")
    written[0].write_text(estate, encoding="utf-8")
    for candidate in inputs.candidates:
        drill = replay_drill(out_dir, candidate.name)
        drill.parent.mkdir(exist_ok=True)
        ran = f"as candidate {candidate.name} of comparison {inputs.name} ran it"
        plan, runbook = drill.parent / "plan.yaml", drill.parent / "runbook.yaml"
        plan.write_text(_yaml(candidate.plan.data, f"The plan {ran} (from {candidate.plan.path})."), encoding="utf-8")
        runbook.write_text(_yaml(candidate.runbook.data, f"The runbook {ran} (from {candidate.runbook.path})."), encoding="utf-8")
        document = {
            "apiVersion": API_VERSION,
            "kind": "Drill",
            "metadata": {
                "name": candidate.name,
                "description": f"Replays a trial of candidate {candidate.name} of comparison {inputs.name}: "
                "give the trial's --seed and --incident-at (failures.csv).",
            },
            "runbook": "runbook.yaml",
            "estate": "../estate.yaml",
            "plan": "plan.yaml",
            "provider": "sim",
            "incident_at": "random",
            "window": format_duration(inputs.window),
            "window_end": window_end_text(inputs),
            "seed": inputs.seed,
        }
        drill.write_text(_yaml(document, f"drsim drill run {drill} --seed SEED --incident-at TIME replays one trial."), encoding="utf-8")
        written += [plan, runbook, drill]
    return written


def write_outputs(result: ComparisonResult, out_dir: Path, *, interrupted_by: str = "Ctrl-C") -> list[Path]:
    """Every file of the out dir from the result; the same result gives the same bytes. A partial
    result's PARTIAL.md names what interrupted it (`interrupted_by`: Ctrl-C or SIGTERM)."""
    inputs = result.inputs
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        summary_path = out_dir / "comparison.csv"
        summary_path.write_text(_csv(summary_frame(result)), encoding="utf-8")
        failures = failures_of(result, out_dir)
        failures_path = out_dir / "failures.csv"
        failures_path.write_text(_csv(failures.assign(window_end=window_end_text(inputs))), encoding="utf-8")
        trials_path = out_dir / "trials.csv.gz"
        _gzip(trials_path, trials_csv(result.trials.assign(model=model_of(result)), window_end_text(inputs)))
        validation = write_validation(result, out_dir)
        json_path = out_dir / "comparison.json"
        json_path.write_text(comparison_json(result, failures), encoding="utf-8")
        replay = write_replay(inputs, out_dir)
        context = report_context(
            inputs,
            result.trials,
            result.summary,
            result.ranking,
            failures,
            requested_trials=result.requested_trials,
            model=result.model,
            charts=result.charts,
        )
        written = [summary_path, failures_path, trials_path, *validation, json_path, *write_report(context, out_dir), *replay]
        note = out_dir / PARTIAL
        if result.partial:
            note.write_text(
                f"# Partial comparison\n\nInterrupted ({interrupted_by}) after {inputs.trials} of {result.requested_trials} trials had "
                "finished for every candidate. The outputs beside this file rank the candidates on those trials only; run the comparison "
                f"again for all of them. Incident window: {format_duration(inputs.window)} ending {window_end_text(inputs)}.\n",
                encoding="utf-8",
            )
            written.append(note)
        else:
            note.unlink(missing_ok=True)  # a whole comparison replaces a partial one
        return written
    except OSError as exc:
        raise ExecutionError(f"cannot write the comparison to {out_dir}: {exc.strerror or exc}") from None
