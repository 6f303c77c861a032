"""Render a run directory into report.md (GitHub-flavoured, charts beside it as SVG files) and
report.html (one self-contained file: inline CSS and SVG, no script, nothing fetched).

Each report section is one Markdown template; report.md strings them together, and report.html
shows the same Markdown rendered by Python-Markdown inside its own layout. Every value printed
into Markdown is escaped on the way out (the environment's finalize hook), and the HTML layout is
autoescaped by Jinja, so user-controlled names can never become markup.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
import markdown
from markupsafe import Markup

from drsim.errors import UsageError
from drsim.measure.findings import Severity
from drsim.measure.result import RunStatus, TaskStatus
from drsim.model.types import Phase
from drsim.report.charts import Chart, TrendPoint, timeline_chart, trend_chart
from drsim.report.evidence import (
    MANIFEST,
    SIGNATURE,
    RecordedSeal,
    SignerChange,
    build_manifest,
    check_signer,
    load_signing_key,
    store_problems,
    verify_bundle,
    write_atomically,
)
from drsim.report.recorded import RecordedRun, check_result_matches_journal, read_run
from drsim.report.text import escape_markdown, offset, usd, utc, verdict
from drsim.report.view import FailureRow, ObjectiveVerdict, PastRun, ReportView, build_view
from drsim.times import ROUNDING_NOTE, duration

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drsim.report import FORMATS

SECTIONS = (
    ("verdict", "Verdict"),
    ("findings", "Findings"),
    ("timeline", "Timeline"),
    ("rto", "RTO breakdown"),
    ("prediction", "Predicted against measured"),
    ("rpo", "RPO"),
    ("points", "Recovery points"),
    ("consistency", "Consistency"),
    ("tasks", "Tasks"),
    ("cleanup", "Cleanup"),
    ("cost", "Cost"),
    ("trend", "Trend"),
    ("controls", "Controls"),
    ("environment", "Environment"),
    ("signoff", "Sign-off"),
)


# ---------------------------------------------------------------------------- Markdown environment
# Filters return Markup only for text they build from numbers and fixed words; anything else is
# escaped by finalize.


def _md_duration(seconds: float | None) -> Markup:
    return Markup(duration(seconds))


def _md_exact(seconds: float | None) -> Markup:
    return Markup(duration(seconds, "exact"))


def _md_margin(objective: ObjectiveVerdict) -> Markup:
    if objective.shortfall is not None:
        return Markup(f"**{escape_markdown(objective.shortfall)}**")
    if objective.margin_s is None:
        return Markup("—")
    return Markup(f"{duration(objective.margin_s, 'down')} to spare")


def _md_verdict(met: bool | None) -> Markup:
    return Markup("**MISSED**" if met is False else verdict(met))


def _md_yesno(value: bool | None) -> Markup:
    return Markup({True: "yes", False: "**no**", None: "—"}[value])


def _md_critical(critical: bool) -> Markup:
    return Markup("yes" if critical else "—")


def _md_severity(severity: Severity) -> Markup:
    return Markup(f"**{severity.value}**" if severity is Severity.HIGH else severity.value)


def _md_passfail(passed: bool) -> Markup:
    return Markup("passed" if passed else "**failed**")


def _md_status(status: TaskStatus | RunStatus) -> Markup:
    good = status in (TaskStatus.SUCCEEDED, RunStatus.PASSED)
    return Markup(status.value if good else f"**{status.value}**")


def _md_attention(count: int) -> Markup:
    return Markup(f"**{count}**" if count else "0")


def _md_attention_status(status: str) -> Markup:
    return Markup("done" if status == "done" else f"**{escape_markdown(status)}**")


def _md_outcome(failure: FailureRow) -> Markup:
    if failure.final:
        return Markup("**the task failed**")
    return Markup("retried; a later attempt succeeded" if failure.retried_ok else "retried")


def _md_utc(moment: datetime | None) -> Markup:
    return Markup(utc(moment))


def _short_id(resource_id: str | None) -> str:
    """The last segment of an ARM id (the full id stays in the journal)."""
    return resource_id.rstrip("/").rsplit("/", 1)[-1] if resource_id else "—"


def _environment(kind: str) -> jinja2.Environment:
    loader = jinja2.PackageLoader("drsim.report", "templates")
    if kind == "md":
        env = jinja2.Environment(
            loader=loader,
            autoescape=False,
            finalize=escape_markdown,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            undefined=jinja2.StrictUndefined,
        )
        env.filters.update(
            duration=_md_duration,
            exact=_md_exact,
            margin=_md_margin,
            verdict=_md_verdict,
            yesno=_md_yesno,
            passfail=_md_passfail,
            severity=_md_severity,
            critical=_md_critical,
            status=_md_status,
            attention=_md_attention,
            attention_status=_md_attention_status,
            outcome=_md_outcome,
            utc=_md_utc,
            usd=usd,
            short_id=_short_id,
        )
    else:
        env = jinja2.Environment(loader=loader, autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
        env.filters.update(duration=duration, exact=lambda seconds: duration(seconds, "exact"), utc=utc, verdict_word=verdict)
    env.globals["rounding_note"] = Markup(ROUNDING_NOTE)  # fixed words: nothing to escape
    return env


def _reasons(view: ReportView) -> str:
    """One sentence saying why the run has its status."""
    parts = []
    if view.missed:
        parts.append(f"{len(view.missed)} objective(s) missed ({', '.join(f'{o.app} {o.measure}' for o in view.missed)})")
    failed_tasks = sum(1 for t in view.tasks if t.status is TaskStatus.FAILED)
    if failed_tasks:
        parts.append(f"{failed_tasks} task(s) failed")
    if view.checks_failed:
        parts.append(f"{view.checks_failed} check(s) failed")
    if view.consistency_findings:
        parts.append(f"{view.consistency_findings} consistency finding(s)")
    if view.leftovers:
        parts.append(f"{len(view.leftovers)} resource(s) left behind after cleanup")
    elif view.cleanup_status == "incomplete":
        parts.append("cleanup incomplete")
    if view.aborted:
        parts.append(f"the run was aborted: {view.aborted}")
    return _reasons_of_status(view, parts) + _forced_reseals(view) + _resigned(view) + _attested(view)


def _forced_reseals(view: ReportView) -> str:
    count = len(view.environment.forced_reseals)
    if not count:
        return ""
    return f" The evidence was sealed again with --force {count} time(s), over changes made after it was first sealed (see Environment)."


def _resigned(view: ReportView) -> str:
    count = len(view.environment.resigned)
    if not count:
        return ""
    return f" The evidence was signed again with another key {count} time(s), replacing the signature it had (see Environment)."


def _attested(view: ReportView) -> str:
    verdicts = [f"{a.verdict} by {a.by} ({a.role})" for a in view.signoff.attestations]
    if not verdicts:
        return ""
    return f" Attested: {'; '.join(verdicts)} (see Sign-off)."


def _reasons_of_status(view: ReportView, parts: list[str]) -> str:
    if not parts:
        if view.status is RunStatus.PASSED:
            return "Every objective was met, every task and check succeeded, and cleanup left nothing behind."
        return f"The run ended with status {view.status.value}; see the tasks and the journal."
    sentence = "; ".join(parts)
    return sentence[:1].upper() + sentence[1:] + "."


def render_view(view: ReportView, formats: Sequence[str] = FORMATS) -> dict[str, str]:
    """The text of each output file (report.md, report.html, timeline.svg, trend.svg) for a view."""
    md_env = _environment("md")
    md_env.filters["since"] = lambda moment: Markup(offset(moment, view.incident_at))
    context = {"view": view, "Phase": Phase, "e": view.environment}
    reasons = _reasons(view)
    sections = {name: md_env.get_template(f"md/{name}.md.j2").render(context).strip() + "\n" for name, _ in SECTIONS}
    timeline = timeline_chart(view)
    trend: Chart | None = None
    if view.trend.available and len(view.trend.rows) >= 2:
        points = [  # each run's kind beside its name: only the real ones are operating evidence
            TrendPoint(f"{r.drill} {r.incident_at[:10]} ({r.kind_label})", r.worst_rto_s, r.worst_rpo_s, r.current) for r in view.trend.rows
        ]
        trend = trend_chart(points, view.trend.rto_objective_s, view.trend.rpo_objective_s)
    out: dict[str, str] = {}
    if "md" in formats:
        text = md_env.get_template("report.md.j2").render(
            context, reasons=reasons, sections={k: Markup(v) for k, v in sections.items()}, trend_chart=trend is not None
        )
        out["report.md"] = re.sub(r"\n{3,}", "\n\n", text).rstrip("\n") + "\n"
        out["timeline.svg"] = timeline.svg
        if trend is not None:
            out["trend.svg"] = trend.svg
    if "html" in formats:
        converter = markdown.Markdown(extensions=["tables"], output_format="html")
        html_sections = {}
        for name, text in sections.items():
            html_sections[name] = Markup(converter.convert(text))
            converter.reset()
        css = files("drsim.report").joinpath("templates/report.css").read_text(encoding="utf-8")
        out["report.html"] = (
            _environment("html")
            .get_template("report.html.j2")
            .render(
                view=view,
                sections=html_sections,
                toc=tuple((key, title) for key, title in SECTIONS if key != "prediction" or view.prediction is not None),
                css=Markup(css),
                reasons=reasons,
                timeline_svg=Markup(timeline.inline),
                trend_svg=Markup(trend.inline) if trend else None,
            )
        )
    return out


def _check_formats(formats: Sequence[str]) -> None:
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise UsageError(f"report format must be one or more of {', '.join(FORMATS)}; got {', '.join(formats) or 'none'}")


def render_recorded(
    run: RecordedRun, formats: Sequence[str], history: Sequence[PastRun] | None, controls: Sequence[str] | None
) -> list[Path]:
    """Write each report file of a run atomically (a killed rendering leaves the old file, never half a new one).

    `history` is the run's series from the history store, oldest first, ending with this run (None: no store)."""
    _check_formats(formats)
    view = build_view(run, history, controls)
    outputs = render_view(view, formats)
    written = []
    for name, text in outputs.items():
        path = run.run_dir / name
        write_atomically(path, text.encode("utf-8"))
        written.append(path)
    if "md" in formats and "trend.svg" not in outputs:
        (run.run_dir / "trend.svg").unlink(missing_ok=True)  # a stale chart from an earlier rendering
    return written


def render_run(
    run_dir: str | os.PathLike[str],
    formats: Sequence[str] = FORMATS,
    history: Sequence[PastRun] | None = None,
    *,
    controls: Sequence[str] | None = None,
) -> list[Path]:
    """Write the reports of a run directory from its files; return the paths written.

    With `history` (the run's series from a history store, drsim.drills.record_run) the trend section
    compares the run with the earlier runs of its series. `controls` overrides the control ids
    journaled from the drill's evidence.controls. The reports show a broken journal chain rather than
    refuse it: `prepare_rerender` is the one that refuses.
    """
    _check_formats(formats)
    return render_recorded(read_run(run_dir), formats, history, controls)


def check_rerenderable(run_dir: Path, recorded: RecordedSeal | None = None) -> RecordedRun:
    """Everything `drsim report` checks before it writes anything: the run as sealed is intact (when
    sealed), and is the run drsim sealed (when a history store recorded the seal: `recorded`), its
    journal's chain is whole, and result.json is what the journal measured."""
    verification = verify_bundle(run_dir) if (run_dir / MANIFEST).exists() else None
    if recorded is not None and (mismatches := store_problems(run_dir, recorded)):
        raise UsageError(
            f"{run_dir}: the run is not as drsim sealed it ({'; '.join(mismatches)}); refusing to re-render and re-seal it: "
            f"`drsim evidence verify {run_dir}` shows it"
        )
    if verification is not None and not verification.intact:
        changed = "; ".join(verification.problems)
        raise UsageError(
            f"{run_dir}: the run no longer matches its sealed {MANIFEST} ({changed}); refusing to re-render and re-seal it "
            f"over the changes: `drsim evidence verify {run_dir}` shows them"
        )
    run = read_run(run_dir)
    if verification is None:  # never sealed: a broken or cut journal, a symbolic link are refused here (sealed: verified above)
        build_manifest(run_dir)
    check_result_matches_journal(run)
    return run


def prepare_rerender(
    run_dir: str | os.PathLike[str],
    formats: Sequence[str] = FORMATS,
    sign_key: str | os.PathLike[str] | None = None,
    recorded: RecordedSeal | None = None,
    *,
    re_sign: bool = False,
) -> tuple[RecordedRun, Ed25519PrivateKey | None, SignerChange | None]:
    """What `drsim report` checks before anything is written, in the run directory or the store:
    check_rerenderable, the formats, the key. A signed run is only re-rendered with a key: new
    reports under an old signature would no longer verify; and only with the key that signed it, unless
    `re_sign` (check_signer). Gives the run, the loaded key and the change of signer `re_sign` allows."""
    directory = Path(run_dir)
    _check_formats(formats)
    if not directory.is_dir():
        raise UsageError(f"{directory}: not a directory (expected a run directory such as reports/<drill>/<run-id>)")
    if (directory / SIGNATURE).exists() and sign_key is None:
        raise UsageError(
            f"{directory}: the run is signed ({SIGNATURE}); re-rendering would break the signature: pass --sign-key PEM to sign again"
        )
    key = load_signing_key(sign_key) if sign_key is not None else None
    run = check_rerenderable(directory, recorded)
    return run, key, check_signer(directory, key, re_sign=re_sign, key_path=sign_key, recorded=recorded)
