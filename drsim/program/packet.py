"""The coverage packet on disk: coverage.json (the content), coverage.md and a self-contained
coverage.html rendered from it, a one-event journal (`coverage.made`, with the SHA-256 of
coverage.json) and the manifest that seals them all, as a run is sealed (`drsim evidence verify DIR`)."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from drsim import __version__
from drsim.engine.journal import JournalWriter, read_journal
from drsim.errors import DrsimError, UsageError
from drsim.measure.events import CoverageMade, Performed
from drsim.measure.result import AppMeasures
from drsim.program.coverage import MISSING, PARTIAL, PRESENT, Coverage
from drsim.report.evidence import Verification, load_signing_key, seal, verify_bundle, write_atomically
from drsim.times import ROUNDING_NOTE, Rounding, duration

JSON_NAME, MD_NAME, HTML_NAME, JOURNAL_NAME = "coverage.json", "coverage.md", "coverage.html", "journal.jsonl"
PACKET_FILES = (JSON_NAME, MD_NAME, HTML_NAME, JOURNAL_NAME, "manifest.json", "manifest.sig")
_MARK = {PRESENT: "present", PARTIAL: "partial", MISSING: "missing"}


def _seconds(value: object, rounding: Rounding = "up") -> str:
    """A measure (rounded up, as everywhere) or an objective (`exact`)."""
    return duration(value, rounding) if isinstance(value, int | float) else "-"


def _met(value: object) -> str:
    return "met" if value is True else "missed" if value is False else "-"


def _verdict(app: dict[str, Any]) -> str:
    """`RTO met, RPO missed`; a miss without a measure, or with an RPO within its objective, says why
    (as the run's report does), lest the table read "2h 00m against 6h 00m: missed" with no reason."""
    measures = AppMeasures.model_validate({name: app.get(name) for name in AppMeasures.names()})
    rto, rpo = _met(measures.rto_met), _met(measures.rpo_met)
    rto += f" ({why})" if (why := measures.rto_miss_reason()) else ""
    rpo += f" ({why})" if (why := measures.rpo_miss_reason()) else ""
    return f"RTO {rto}, RPO {rpo}"


def _cell_text(cell: dict[str, Any]) -> str:
    if cell["state"] == "not drilled":
        return "not drilled"
    parts = []
    for key, label in (("real", "real"), ("simulated", "simulated")):
        for hit in cell[key]:
            parts.append(f"{label} {'passed' if hit['passed'] else 'failed'} ({hit['run']})")
    return "; ".join(parts)


def _md_escape(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(data: dict[str, Any]) -> str:
    period = data["period"]
    lines = [
        f"# DR testing coverage: {period['label']}",
        "",
        f"Period {period['from']} to {period['to']} (end excluded). Store: `{data['store']}`."
        + (f" Estate: `{data['estate']}`." if data["estate"] else ""),
        "",
        "Only executed recoveries whose evidence verifies count as operating evidence. Simulations evidence the "
        "recovery design only; runs against drsim's emulator evidence neither.",
        "",
        "## Runs",
        "",
        "| run | drill | kind | status | performed | scenario | evidence |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in data["runs"]:
        lines.append(
            f"| [{run['ref']}]({run['report']}) | {_md_escape(run['drill'])} ({run['run_id']}) | {run['kind']} | {run['status']} | "
            f"{run['performed']} | {run['scenario']} | {_md_escape(run['evidence'])} |"
        )
    if not data["runs"]:
        lines.append("| - | no run was performed in the period | | | | | |")
    scenarios = data["scenarios"]  # in their order (the cells of a row are keyed by scenario)
    lines += ["", "## Coverage matrix", "", "| app | mechanism | " + " | ".join(scenarios) + " |", "|---|---|" + "---|" * len(scenarios)]
    for row in data["matrix"]:
        app = f"{row['app']} (critical)" if row["critical"] else row["app"]
        cells = " | ".join(_md_escape(_cell_text(row["scenarios"][s])) for s in scenarios)
        lines.append(f"| {_md_escape(app)} | {row['mechanism']} | {cells} |")
    lines += [
        "",
        "## Objectives against measurements",
        "",
        "| app | run | kind | RTO objective | RTO measured | RPO objective | RPO measured | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in data["runs"]:
        for app in run["apps"]:
            verdict = _verdict(app)
            rto = f"{_seconds(app['rto_objective_s'], 'exact')} | {_seconds(app['rto_s'])}"
            rpo = f"{_seconds(app['rpo_objective_s'], 'exact')} | {_seconds(app['rpo_s'])}"
            lines.append(f"| {_md_escape(app['app'])} | {run['ref']} | {run['kind']} | {rto} | {rpo} | {verdict} |")
    lines += ["", ROUNDING_NOTE, "", "## Findings", ""]
    if data["findings"]:
        lines += ["| id | run | severity | app | reason | owner | due | state |", "|---|---|---|---|---|---|---|---|"]
        for f in data["findings"]:
            state = "closed" if f.get("closed") else "re-verified" if f.get("reverified") else "open"
            if f.get("simulated"):
                state += " (simulated run)"
            lines.append(
                f"| {_md_escape(f.get('id'))} | {f['run']} | {_md_escape(f.get('severity', '-'))} | {_md_escape(f.get('app', '-'))} | "
                f"{_md_escape(f.get('reason', '-'))} | {_md_escape(f.get('owner') or '-')} | {_md_escape(f.get('due') or '-')} | {state} |"
            )
    else:
        lines.append("No findings in the runs of the period.")
    lines += ["", "## Participants", ""]
    people = [(run["ref"], p) for run in data["runs"] for p in run["participants"]]
    if people:
        lines += ["| name | role | what they did | run |", "|---|---|---|---|"]
        lines += [f"| {_md_escape(p['name'])} | {_md_escape(p['role'] or '-')} | {_md_escape(p['acted'])} | {ref} |" for ref, p in people]
    else:
        lines.append("No participant was recorded (no human step was approved and no run was attested).")
    lines += ["", "## Checklist per framework", "", "| framework | clause | expected artifact | status | provided by | note |"]
    lines.append("|---|---|---|---|---|---|")
    for item in data["checklist"]:
        lines.append(
            f"| {item['framework']} | {item['clause']} | {item['title']} | **{_MARK[item['status']]}** | "
            f"{', '.join(item['provided_by']) or '-'} | {_md_escape(item['note'])} |"
        )
    for note in data["notes"]:
        lines += ["", f"Note: {_md_escape(note)}"]
    return "\n".join(lines) + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;max-width:1200px;color:#1b1f23}
table{border-collapse:collapse;margin:0.5rem 0 1.5rem;font-size:0.9rem}
th,td{border:1px solid #d0d7de;padding:0.3rem 0.5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}
.present{background:#dafbe1}.partial{background:#fff8c5}.missing{background:#ffebe9}
.real-passed{background:#dafbe1}.real-failed{background:#ffebe9}.sim{background:#eef1f4;color:#57606a}
.note{color:#57606a}
"""


def _h(text: object) -> str:
    return escape(str(text), quote=True)


def _table(head: list[str], rows: list[list[str]]) -> str:
    """An HTML table; every cell is already escaped (or built from escaped parts)."""
    out = ["<table><thead><tr>", *(f"<th>{_h(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _td(text: object, css: str | None = None) -> str:
    return f'<td class="{css}">{_h(text)}</td>' if css else f"<td>{_h(text)}</td>"


def render_html(data: dict[str, Any]) -> str:
    period = data["period"]
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        f"<title>DR testing coverage: {_h(period['label'])}</title><style>{_CSS}</style></head><body>",
        f"<h1>DR testing coverage: {_h(period['label'])}</h1>",
        f"<p>Period {_h(period['from'])} to {_h(period['to'])} (end excluded). Store: <code>{_h(data['store'])}</code>."
        + (f" Estate: <code>{_h(data['estate'])}</code>." if data["estate"] else "")
        + "</p>",
        '<p class="note">Only executed recoveries whose evidence verifies count as operating evidence. Simulations evidence the '
        "recovery design only; runs against drsim's emulator evidence neither.</p>",
        "<h2>Runs</h2>",
    ]
    refs = {run["ref"]: run["report"] for run in data["runs"]}

    def link(ref: str) -> str:
        return f'<a href="{_h(refs[ref])}">{_h(ref)}</a>' if ref in refs else _h(ref)

    parts.append(
        _table(
            ["run", "drill", "kind", "status", "performed", "scenario", "evidence"],
            [
                [
                    f"<td>{link(r['ref'])}</td>",
                    _td(f"{r['drill']} ({r['run_id']})"),
                    _td(r["kind"]),
                    _td(r["status"]),
                    _td(r["performed"]),
                    _td(r["scenario"]),
                    _td(r["evidence"]),
                ]
                for r in data["runs"]
            ]
            or [[_td("no run was performed in the period")]],
        )
    )
    scenarios = data["scenarios"]  # in their order (the cells of a row are keyed by scenario)
    parts.append("<h2>Coverage matrix</h2>")
    matrix_rows = []
    for row in data["matrix"]:
        cells = [_td(f"{row['app']} (critical)" if row["critical"] else row["app"]), _td(row["mechanism"])]
        for scenario in scenarios:
            cell = row["scenarios"][scenario]
            css = "real-passed" if cell["state"] == "real, passed" else "real-failed" if cell["state"] == "real, failed" else "sim"
            hits = [
                f"{label} {'passed' if hit['passed'] else 'failed'} ({link(hit['run'])})"
                for key, label in (("real", "real"), ("simulated", "simulated"))
                for hit in cell[key]
            ]
            cells.append(f'<td class="{css}">' + ("; ".join(hits) if hits else "not drilled") + "</td>")
        matrix_rows.append(cells)
    parts.append(_table(["app", "mechanism", *scenarios], matrix_rows))
    parts.append("<h2>Objectives against measurements</h2>")
    parts.append(
        _table(
            ["app", "run", "kind", "RTO objective", "RTO measured", "RPO objective", "RPO measured", "verdict"],
            [
                [
                    _td(a["app"]),
                    f"<td>{link(r['ref'])}</td>",
                    _td(r["kind"]),
                    _td(_seconds(a["rto_objective_s"], "exact")),
                    _td(_seconds(a["rto_s"])),
                    _td(_seconds(a["rpo_objective_s"], "exact")),
                    _td(_seconds(a["rpo_s"])),
                    _td(_verdict(a)),
                ]
                for r in data["runs"]
                for a in r["apps"]
            ],
        )
    )
    parts.append(f"<p>{escape(ROUNDING_NOTE)}</p>")
    parts.append("<h2>Findings</h2>")
    if data["findings"]:
        rows = []
        for f in data["findings"]:
            state = "closed" if f.get("closed") else "re-verified" if f.get("reverified") else "open"
            if f.get("simulated"):
                state += " (simulated run)"
            rows.append(
                [
                    _td(f.get("id")),
                    f"<td>{link(f['run'])}</td>",
                    _td(f.get("severity", "-")),
                    _td(f.get("app", "-")),
                    _td(f.get("reason", "-")),
                    _td(f.get("owner") or "-"),
                    _td(f.get("due") or "-"),
                    _td(state),
                ]
            )
        parts.append(_table(["id", "run", "severity", "app", "reason", "owner", "due", "state"], rows))
    else:
        parts.append("<p>No findings in the runs of the period.</p>")
    parts.append("<h2>Participants</h2>")
    people = [(run["ref"], p) for run in data["runs"] for p in run["participants"]]
    if people:
        parts.append(
            _table(
                ["name", "role", "what they did", "run"],
                [[_td(p["name"]), _td(p["role"] or "-"), _td(p["acted"]), f"<td>{link(ref)}</td>"] for ref, p in people],
            )
        )
    else:
        parts.append("<p>No participant was recorded (no human step was approved and no run was attested).</p>")
    parts.append("<h2>Checklist per framework</h2>")
    parts.append(
        _table(
            ["framework", "clause", "expected artifact", "status", "provided by", "note"],
            [
                [
                    _td(i["framework"]),
                    _td(i["clause"]),
                    _td(i["title"]),
                    _td(_MARK[i["status"]], i["status"]),
                    "<td>" + (", ".join(link(p) for p in i["provided_by"]) or "-") + "</td>",
                    _td(i["note"]),
                ]
                for i in data["checklist"]
            ],
        )
    )
    parts += [f'<p class="note">Note: {_h(note)}</p>' for note in data["notes"]]
    parts.append("</body></html>\n")
    return "".join(parts)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def write_packet(coverage: Coverage, out_dir: str | os.PathLike[str], sign_key: str | os.PathLike[str] | None = None) -> list[Path]:
    """Write and seal the packet in `out_dir` (a new or empty directory, or an earlier packet's, which is replaced)."""
    directory = Path(out_dir)
    key = load_signing_key(sign_key) if sign_key is not None else None  # a bad key is refused before anything is written
    if directory.exists():
        if not directory.is_dir():
            raise UsageError(f"--out {directory}: not a directory")
        strangers = sorted(p.name for p in directory.iterdir() if p.name not in PACKET_FILES)
        if strangers:
            raise UsageError(
                f"--out {directory}: holds files that are not a coverage packet ({', '.join(strangers[:3])}): give a new or empty directory"
            )
    directory.mkdir(parents=True, exist_ok=True)
    data = coverage.to_json(directory)
    content = (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    (directory / JOURNAL_NAME).unlink(missing_ok=True)  # the packet is made again whole
    write_atomically(directory / JSON_NAME, content)
    write_atomically(directory / MD_NAME, render_markdown(data).encode())
    write_atomically(directory / HTML_NAME, render_html(data).encode())
    now = datetime.now(UTC)
    journal = JournalWriter(directory / JOURNAL_NAME)
    try:
        journal.write(
            CoverageMade(
                at=now,
                run_id=f"coverage-{coverage.period.label}",
                period=coverage.period.label,
                period_start=coverage.period.start,
                period_end=coverage.period.end,
                store=coverage.store,
                estate=coverage.estate,
                runs=len(coverage.runs),
                coverage_sha256=hashlib.sha256(content).hexdigest(),
                performed=Performed(started=now, drsim_version=__version__, host=socket.gethostname(), user=_user()),
            )
        )
    finally:
        journal.close()
    manifest = seal(directory, key)
    written = [directory / name for name in (MD_NAME, HTML_NAME, JSON_NAME)]
    return [*written, manifest]


def is_packet(directory: str | os.PathLike[str]) -> bool:
    """Whether a directory is a coverage packet (its journal begins with coverage.made)."""
    journal = Path(directory) / JOURNAL_NAME
    try:
        with journal.open("rb") as stream:
            first = stream.readline()
    except OSError:
        return False
    return first.startswith(b'{"event":"' + CoverageMade.kind.encode() + b'"')


def verify_packet(directory: str | os.PathLike[str], public_key: str | os.PathLike[str] | None, *, signature_check: bool) -> Verification:
    """`drsim evidence verify` of a packet: every file as sealed, the journal's chain, the signature (with
    `public_key`), coverage.json the file the journal names, and coverage.md and coverage.html exactly
    what coverage.json renders to."""
    path = Path(directory)
    found = verify_bundle(path, public_key)
    if found.signed and public_key is None and signature_check:
        found.problems.append("manifest.sig: the packet is signed, but its signature was not checked: pass --public-key PEM")
    try:
        content = (path / JSON_NAME).read_bytes()
        events = read_journal(path / JOURNAL_NAME).events
        data = json.loads(content)
    except (OSError, ValueError, DrsimError) as exc:
        found.problems.append(f"{JSON_NAME}: cannot be read back ({exc})")
        return found
    made = events[0] if events and isinstance(events[0], CoverageMade) else None
    if made is None or hashlib.sha256(content).hexdigest() != made.coverage_sha256:
        found.problems.append(f"{JSON_NAME}: not the file {JOURNAL_NAME} names (its SHA-256 differs)")
    for name, render in ((MD_NAME, render_markdown), (HTML_NAME, render_html)):
        try:
            same = (path / name).read_bytes() == render(data).encode()
        except (OSError, KeyError, TypeError, ValueError):
            same = False
        if not same:
            found.problems.append(f"{name}: not what {JSON_NAME} renders to")
    return found
