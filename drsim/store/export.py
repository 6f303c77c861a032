"""Recorded runs written out for `drsim history`: a table for people, CSV and JSON for tools."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path

from drsim.measure.result import AppMeasures
from drsim.store.history import HistoryStore, RunRecord
from drsim.times import duration

COLUMNS = (
    "run_id",
    "kind",
    "drill",
    "runbook",
    "provider",
    "seed",
    "incident_at",
    "status",
    "app",
    "rto_s",
    "rto_objective_s",
    "rto_met",
    "rpo_s",
    "rpo_claimed_s",
    "rpo_objective_s",
    "rpo_met",
    "consistent",
    "tasks_total",
    "tasks_failed",
    "leftovers",
    "cost_usd",
    "drsim_version",
    "catalog_version",
    "run_dir",
    "performed_at",
)


class HistoryFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def _run_fields(run: RunRecord) -> dict[str, object]:
    """A recorded run's own fields, as the exports name them (its apps come beside them)."""
    return {
        "run_id": run.run_id,
        "kind": _kind(run),
        "drill": run.drill,
        "runbook": run.runbook,
        "provider": run.provider,
        "seed": run.seed,
        "incident_at": run.incident_at,
        "status": run.status.value,
        "tasks_total": run.tasks_total,
        "tasks_failed": run.tasks_failed,
        "leftovers": run.leftovers,
        "cost_usd": run.cost_usd,
        "drsim_version": run.drsim_version,
        "catalog_version": run.catalog_version,
        "run_dir": run.run_dir,
        "performed_at": run.performed_at,
    }


def _kind(run: RunRecord) -> str:
    """simulated, emulated or real; unknown for an Azure run an older drsim recorded without saying."""
    return run.kind.label if run.kind is not None else "unknown"


def evidence_summary(runs: Sequence[RunRecord]) -> str:
    """What the runs count for: only real runs are operating evidence (docs/compliance.md)."""
    counts = {label: sum(1 for r in runs if _kind(r) == label) for label in ("real", "simulated", "emulated", "unknown")}
    real = [r for r in runs if r.operating_evidence]
    passed = sum(1 for r in real if r.status.value == "passed")
    text = f"{len(runs)} recorded run(s): {counts['real']} real ({passed} passed), the only operating evidence"
    others = [f"{n} {label}" for label, n in counts.items() if label != "real" and n]
    if others:
        text += f"; {', '.join(others)}, which are not"
    return text


def _rows(runs: Sequence[RunRecord]) -> list[dict[str, object]]:
    """One row per run and application (a run without applications still gets a row)."""
    rows = []
    for run in runs:
        base = _run_fields(run)
        for app in run.apps or (None,):
            row = dict(base)
            row.update(app.model_dump() if app else dict.fromkeys(AppMeasures.names()))
            rows.append({column: row[column] for column in COLUMNS})
    return rows


def _json(runs: Sequence[RunRecord]) -> str:
    document = [{**_run_fields(run), "apps": [a.model_dump() for a in run.apps]} for run in runs]
    return json.dumps(document, indent=2) + "\n"


def _csv(runs: Sequence[RunRecord]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in _rows(runs):
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()


def _shown_directory(run_dir: str | None, base: Path | None) -> str:
    """A run's directory as the table shows it: relative to the store's folder when inside it."""
    if run_dir is None:
        return "—"
    if base is not None:
        try:
            return Path(run_dir).relative_to(base).as_posix()
        except ValueError:
            pass
    return run_dir


NARROWEST_VERDICT = 9
"""A verdict column's narrowest width: "50m 00s /" on one line."""
WIDEST_VERDICT = 13
"""A narrow terminal's verdict columns grow up to this where it leaves room."""


def _verdict_widths(runs: Sequence[RunRecord], room: int) -> tuple[int, int]:
    """The widths of the RTO and RPO columns on a terminal under 120 columns: half of `room` (what the
    other columns leave) each, from NARROWEST_VERDICT up to WIDEST_VERDICT, and never narrower than
    the longest word of the reasons the column shows ("inconsistent)"), so that a reason wraps between
    words, never inside one; a column wider than its words need gives the other what it lacks."""

    def longest_word(reasons: list[str | None]) -> int:
        return max([NARROWEST_VERDICT, *(len(word) for reason in reasons if reason for word in f"({reason})".split())])

    apps = [app for run in runs for app in run.apps]
    needs = [longest_word([a.rto_miss_reason() for a in apps]), longest_word([a.rpo_miss_reason() for a in apps])]
    share = max(NARROWEST_VERDICT, min(WIDEST_VERDICT, room // 2))
    widths = [max(need, share) for need in needs]
    for i, need in enumerate(needs):
        excess = sum(widths) - room
        if excess > 0:
            widths[i] -= min(excess, widths[i] - need)
    return widths[0], widths[1]


def _table(runs: Sequence[RunRecord], base: Path | None = None, width: int = 100) -> str:
    """One row per run and application, `width` columns wide at most: a run's drill, id and directory
    in one cell and its kind, status and incident time in another, so that cells wrap, never cut short."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # rich cuts a table short when a word (a run id, a path) is wider than its column can be: so the
    # columns that hold such words are given their widths here, out of what the terminal leaves.
    room = width - (3 * 5 + 2)  # six columns: three spaces between two, one at each edge
    wide = width >= 120
    # "50m 00s /" above "2h 00m ok" when narrow: at least 9 columns, and at least the longest word of
    # the reasons shown ("inconsistent)", "recovered)"), so that "(data inconsistent)" wraps between
    # words, never inside one; then up to 13 columns each where the terminal leaves room.
    rto_width, rpo_width = (22, 22) if wide else _verdict_widths(runs, room - (6 + 4) - 30)
    flexible = max(room - (6 + 4) - rto_width - rpo_width, 30)
    run_width = min(max(flexible * 2 // 3, 21), flexible - 10)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("drill, run, directory", overflow="fold", width=run_width)  # runs of one drill and id differ by directory
    table.add_column("kind, status, incident", overflow="fold", width=flexible - run_width)
    table.add_column("app", overflow="fold", max_width=20 if wide else 6)
    table.add_column("RTO / objective", overflow="fold", max_width=rto_width)
    table.add_column("RPO / objective, claimed", overflow="fold", max_width=rpo_width)
    table.add_column("left", overflow="fold", width=4)

    between = " " if wide else "\n"  # a duration is never split over two lines

    def measure(value: float | None, objective: float | None, met: bool | None, why: str | None) -> Text:
        verdict = {True: " ok", False: " MISSED", None: ""}[met] + (f" ({why})" if why else "")
        text = f"{duration(value)} /{between}{duration(objective, 'exact')}{verdict}"
        return Text(text, style={True: "green", False: "bold red", None: ""}[met])

    for run in runs:
        directory = _shown_directory(run.run_dir, base)
        for app in run.apps or (None,):
            state = Text(_kind(run), style="bold" if run.operating_evidence else "")
            state.append("\n")
            state.append(run.status.value, style={"passed": "green", "failed": "red", "error": "bold red"}[run.status.value])
            state.append(f"\n{run.incident_at}")
            table.add_row(
                Text(f"{run.drill}\n{run.run_id}\n{directory}"),
                state,
                Text(app.app if app else "—"),
                measure(app.rto_s, app.rto_objective_s, app.rto_met, app.rto_miss_reason()) if app else Text("—"),
                measure(app.rpo_s, app.rpo_objective_s, app.rpo_met, app.rpo_miss_reason()).append(
                    f"\nclaimed{between}{duration(app.rpo_claimed_s)}"
                )
                if app
                else Text("—"),
                Text(str(run.leftovers)),
            )
    buffer = io.StringIO()
    Console(file=buffer, width=width, force_terminal=False, color_system=None).print(table)
    return buffer.getvalue() + evidence_summary(runs) + "\n"


def export_history(runs: Sequence[RunRecord], fmt: HistoryFormat, *, base: Path | None = None, width: int = 100) -> str:
    """The runs as text in the given format (the table, `width` columns wide, shows run directories relative to `base`)."""
    if fmt is HistoryFormat.JSON:
        return _json(runs)
    if fmt is HistoryFormat.CSV:
        return _csv(runs)
    return _table(runs, base, width)


def history_text(
    store: str | os.PathLike[str], fmt: HistoryFormat, *, drill: str | None = None, runbook: str | None = None, width: int = 100
) -> str:
    """`drsim history`: the recorded runs of an existing store, filtered, in a format (a table `width` columns wide)."""
    with HistoryStore(store, create=False) as opened:
        return export_history(opened.runs(drill=drill, runbook=runbook), fmt, base=opened.path.resolve().parent, width=width)
