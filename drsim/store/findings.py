"""`drsim findings`: the findings kept in the history store, listed for people (a table that fits the
terminal) or tools (JSON), and what people do about them: assign an owner and a due date, close with
a note. Every assignment and closure is recorded with who did it and when; re-verification is done by
a later real drill when it is recorded (drsim.store.history.HistoryStore.record).
"""

from __future__ import annotations

import getpass
import io
import json
import os
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from drsim.errors import UsageError
from drsim.store.history import FindingRecord, HistoryStore
from drsim.times import utc_text

ID_PATTERN = re.compile(r"^F-[A-Za-z0-9._-]+-[a-z]+(?:-[a-z]+)*-[0-9a-f]{8}$")
"""`F-<app>-<kind>-<hash8>` (drsim.measure.findings.finding_id)."""


class FindingsFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def check_finding_id(text: str) -> str:
    """A finding id as drsim writes it, or UsageError (exit 2) saying what one looks like."""
    if not ID_PATTERN.match(text):
        raise UsageError(f"{text!r} is not a finding id: ids look like F-<app>-<kind>-<8 hex digits>, e.g. F-shop-rpo-missed-57169aa1")
    return text


def parse_due(text: str) -> str:
    """A due date, YYYY-MM-DD, as the store keeps it (UsageError, exit 2, for anything else)."""
    day = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
        try:
            return date.fromisoformat(day).isoformat()
        except ValueError:
            pass
    raise UsageError(f"--due {text!r}: not a date; give the due date as YYYY-MM-DD, e.g. 2027-01-31")


def current_user() -> str:
    """Who is acting, when --by does not say: the operating system's user."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _now() -> str:
    return utc_text(datetime.now(UTC), "seconds")


def _who(by: str | None) -> str:
    if by is not None and not by.strip():
        raise UsageError("--by: give a name (or leave --by out: the operating system's user is recorded)")
    return by.strip() if by is not None else current_user()


def assign_finding(store: str | os.PathLike[str], finding: str, *, owner: str, due: str, by: str | None = None) -> FindingRecord:
    """`drsim findings assign`: an owner and a due date for a finding, recorded with who and when."""
    check_finding_id(finding)
    if not owner.strip():
        raise UsageError("--owner: give the name of who owns the finding")
    day = parse_due(due)
    with HistoryStore(store, create=False) as opened:
        return opened.assign_finding(finding, owner=owner.strip(), due=day, by=_who(by), at=_now())


def close_finding(store: str | os.PathLike[str], finding: str, *, note: str, by: str | None = None) -> FindingRecord:
    """`drsim findings close`: close a finding with a note saying what was done, recorded with who and when."""
    check_finding_id(finding)
    if not note.strip():
        raise UsageError("--note: say what was done about the finding")
    with HistoryStore(store, create=False) as opened:
        return opened.close_finding(finding, note=note.strip(), by=_who(by), at=_now())


def finding_as_json(record: FindingRecord) -> dict[str, Any]:
    """A finding as `drsim findings --format json` writes it."""
    return {
        "id": record.id,
        "status": record.status.value,
        "severity": record.severity.value,
        "kind": record.kind.value,
        "app": record.app,
        "subject": record.subject,
        "title": record.title,
        "reason": record.reason,
        "run_id": record.run_id,
        "drill": record.drill,
        "run_kind": record.run_kind.label if record.run_kind is not None else "unknown",
        "simulated": record.simulated,
        "run_at": record.run_at,
        "opened_at": record.opened_at,
        "owner": record.owner,
        "due": record.due,
        "closed_at": record.closed_at,
        "closed_by": record.closed_by,
        "close_note": record.close_note,
        "reverified_at": record.reverified_at,
        "reverified_by": record.reverified_by,
        "actions": [
            {"action": a.action, "at": a.at, "by": a.by, "owner": a.owner, "due": a.due, "note": a.note, "run_id": a.run_id}
            for a in record.actions
        ],
    }


def _table(records: Sequence[FindingRecord], width: int) -> str:
    """Four columns, `width` wide at most: what a finding is, what it says, where it stands, which run found it."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # Ids are copied from here, so they stay whole while the terminal allows; rich cuts a table short over
    # a word wider than its column can be, so the columns that hold such words get their widths here.
    room = width - (3 * 3 + 2)  # four columns: three spaces between two, one at each edge
    id_width = min(max((len(f.id) for f in records), default=12), 36, max(room // 2, 12))
    status_width = 14 if room >= 80 else 12
    run_width = max(12, min(24, room - id_width - status_width - 24))
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("id, severity, app", overflow="fold", width=id_width)
    table.add_column("finding", overflow="fold", max_width=max(room - id_width - status_width - run_width, 12))
    table.add_column("status, owner, due", overflow="fold", width=status_width)
    table.add_column("drill, run, kind", overflow="fold", width=run_width)
    for f in records:
        what = Text(f.id)
        what.append("\n")
        what.append(f.severity.value, style="bold red" if f.severity.value == "high" else "")
        what.append(f"\n{f.app or '—'}")
        status = Text(f.status.value, style={"open": "bold", "closed": "", "re-verified": "green"}[f.status.value])
        if f.reverified_at is not None:
            status.append(f" by {f.reverified_by}, {f.reverified_at[:10]}")
        elif f.closed_at is not None:
            status.append(f" {f.closed_at[:10]} by {f.closed_by}")
        if f.owner:
            status.append(f"\n{f.owner}, due {f.due}")
        kind = f.run_kind.label if f.run_kind is not None else "unknown kind"
        table.add_row(what, Text(f.title), status, Text(f"{f.drill}\n{f.run_id}\n{kind}"))
    buffer = io.StringIO()
    Console(file=buffer, width=width, force_terminal=False, color_system=None).print(table)
    simulated = sum(1 for f in records if f.simulated)
    note = f"; {simulated} from simulated runs (design findings)" if simulated else ""
    return buffer.getvalue() + f"{len(records)} finding(s){note}\n"


def findings_text(
    store: str | os.PathLike[str],
    fmt: FindingsFormat,
    *,
    open_only: bool = False,
    app: str | None = None,
    width: int = 100,
) -> str:
    """`drsim findings`: the findings of an existing store, filtered, as a table `width` columns wide or JSON."""
    with HistoryStore(store, create=False) as opened:
        records = opened.findings(app=app, open_only=open_only)
    if fmt is FindingsFormat.JSON:
        return json.dumps([finding_as_json(r) for r in records], indent=2) + "\n"
    if not records:
        which = " open" if open_only else ""
        return f"No{which} findings" + (f" for {app}" if app else "") + " in the history store.\n"
    return _table(records, width)
