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
)


class HistoryFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def _run_fields(run: RunRecord) -> dict[str, object]:
    """A recorded run's own fields, as the exports name them (its apps come beside them)."""
    return {
        "run_id": run.run_id,
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
    }


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


def _table(runs: Sequence[RunRecord], base: Path | None = None) -> str:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table()
    columns = ("run", "drill", "incident", "status", "app", "RTO", "RTO objective", "RPO", "RPO claimed", "RPO objective", "leftovers")
    for column in (*columns, "directory"):  # runs of one drill and run id differ by their directory
        table.add_column(column, overflow="fold")
    for run in runs:
        for app in run.apps or (None,):

            def verdict(value: float | None, met: bool | None) -> Text:
                return Text(
                    duration(value) + {True: " ok", False: " MISSED", None: ""}[met],
                    style={True: "green", False: "bold red", None: ""}[met],
                )

            table.add_row(
                Text(run.run_id),
                Text(run.drill),
                Text(run.incident_at),
                Text(run.status.value, style={"passed": "green", "failed": "red", "error": "bold red"}[run.status.value]),
                Text(app.app if app else "—"),
                verdict(app.rto_s, app.rto_met) if app else Text("—"),
                Text(duration(app.rto_objective_s) if app else "—"),
                verdict(app.rpo_s, app.rpo_met) if app else Text("—"),
                Text(duration(app.rpo_claimed_s) if app else "—"),
                Text(duration(app.rpo_objective_s) if app else "—"),
                Text(str(run.leftovers)),
                Text(_shown_directory(run.run_dir, base)),
            )
    buffer = io.StringIO()
    Console(file=buffer, width=240, force_terminal=False, color_system=None).print(table)
    return buffer.getvalue() + f"{len(runs)} recorded run(s)\n"


def export_history(runs: Sequence[RunRecord], fmt: HistoryFormat, *, base: Path | None = None) -> str:
    """The runs as text in the given format (the table shows run directories relative to `base`)."""
    if fmt is HistoryFormat.JSON:
        return _json(runs)
    if fmt is HistoryFormat.CSV:
        return _csv(runs)
    return _table(runs, base)


def history_text(store: str | os.PathLike[str], fmt: HistoryFormat, *, drill: str | None = None, runbook: str | None = None) -> str:
    """`drsim history`: the recorded runs of an existing store, filtered, in a format."""
    with HistoryStore(store, create=False) as opened:
        return export_history(opened.runs(drill=drill, runbook=runbook), fmt, base=opened.path.resolve().parent)
