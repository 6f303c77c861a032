"""Tamper with sealed drill runs in every way the reliability run did, and count what `drsim evidence verify` detects.

    python bench/tamper_evidence.py [--drills N] [--keep DIR]

Every example drill is run in the simulated world (seeds 42 and 43) into one --out, sealed at run
time and recorded in its history store; a second --out holds the same runs sealed again with a
generated Ed25519 key. Each tampering is applied to a fresh copy of an --out (its store pointing at
the copy) and then `drsim evidence verify RUN_DIR` is run (with --public-key for signed runs),
through the CLI's own entry point. A tampering is detected when verify exits non-zero, or exits 0
but reports that the run was sealed again with --force (the one legitimate way to seal over a
change, which the journal and the report then show). Target: 100 % detected, signed and unsigned.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from drsim.cli import main
from drsim.report.evidence import GENESIS, line_digest, seal

ROOT = Path(__file__).resolve().parents[1]
DRILLS = sorted((ROOT / "drills").glob("2026-*.yaml"))
SEEDS = ("42", "43")


def cli(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise RuntimeError(f"drsim {' '.join(map(str, args))} raised {result.exception!r}")
    return result.exit_code, result.output


# ------------------------------------------------------------------------------------------ the runs


def make_out(out: Path, drills: list[Path], key: Path | None) -> list[Path]:
    """Run every drill with each seed into `out`; sign every run with `key`; the runs of seed 42."""
    for drill in drills:
        for seed in SEEDS:
            code, output = cli("drill", "run", drill, "--out", out, "-q", "--seed", seed)
            if code not in (0, 1):
                raise RuntimeError(f"{drill.name} seed {seed}: exit {code}: {output}")
    runs = sorted(p for p in out.glob("*/*") if p.is_dir())
    if key is not None:
        for run in runs:
            code, output = cli("evidence", "seal", run, "--sign-key", key)
            if code != 0:
                raise RuntimeError(f"sealing {run} with a key: {output}")
    return [r for r in runs if r.name.endswith("-s42")]


def copy_out(pristine: Path, target: Path) -> Path:
    """A copy of an --out whose history store records the copied run directories."""
    shutil.copytree(pristine, target)
    with sqlite3.connect(target / "history.sqlite") as db:
        db.execute("UPDATE runs SET run_dir = replace(run_dir, ?, ?)", (str(pristine.resolve()), str(target.resolve())))
    return target


# ------------------------------------------------------------------------------------- the tamperings


@dataclass(frozen=True)
class Context:
    run: Path
    out: Path
    key: Path | None  # the signing key, for signed runs


Tampering = Callable[[Context], None]
JsonObject = dict[str, Any]


def edit_json(path: Path, change: Callable[[JsonObject], None]) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document, indent=2) + "\n")


def result_edit(change: Callable[[JsonObject], None]) -> Tampering:
    return lambda c: edit_json(c.run / "result.json", change)


def flip_status(d: JsonObject) -> None:
    d["status"] = "failed" if d["status"] == "passed" else "passed"


def first_app(field: str, value: object) -> Callable[[JsonObject], None]:
    def change(d: JsonObject) -> None:
        d["apps"][0][field] = value if d["apps"][0][field] != value else None

    return change


def first_task(field: str, value: object) -> Callable[[JsonObject], None]:
    def change(d: JsonObject) -> None:
        d["tasks"][0][field] = value if d["tasks"][0][field] != value else "failed"

    return change


def add_leftover(d: JsonObject) -> None:
    d["cleanup"]["leftovers"].append({"id": "/subscriptions/x/vm", "kind": "vm", "name": "vm", "region": "eastus2", "cost_per_day": 1.0})


def journal_lines(c: Context) -> list[bytes]:
    return (c.run / "journal.jsonl").read_bytes().splitlines(keepends=True)


def write_journal(c: Context, lines: list[bytes]) -> None:
    (c.run / "journal.jsonl").write_bytes(b"".join(lines))


def journal_edit(position: float) -> Tampering:
    """Change one value inside the line at `position` (0 first, 1 last) and keep its prev."""

    def tamper(c: Context) -> None:
        lines = journal_lines(c)
        k = min(len(lines) - 1, int(position * len(lines)))
        event = json.loads(lines[k])
        event["at"] = event["at"].replace("2026", "2025", 1)
        lines[k] = json.dumps(event, separators=(",", ":")).encode() + b"\n"
        write_journal(c, lines)

    return tamper


def rechained(events: list[JsonObject]) -> list[bytes]:
    prev, out = GENESIS, []
    for event in events:
        event = {k: v for k, v in event.items() if k != "prev"}
        line = json.dumps({**event, "prev": prev}, separators=(",", ":"), ensure_ascii=False).encode()
        out.append(line + b"\n")
        prev = line_digest(line)
    return out


def forged_journal_and_result(c: Context) -> None:
    """The careful forgery: flip the run's status in run.finished and result.json, and chain the journal afresh."""
    events = [json.loads(line) for line in journal_lines(c)]
    for event in events:
        if event["event"] == "run.finished":
            event["status"] = "failed" if event["status"] == "passed" else "passed"
    write_journal(c, rechained(events))
    edit_json(c.run / "result.json", flip_status)


def reorder(c: Context) -> None:
    lines = journal_lines(c)
    middle = len(lines) // 2
    lines[middle], lines[middle + 1] = lines[middle + 1], lines[middle]
    write_journal(c, lines)


def reorder_rechained(c: Context) -> None:
    events = [json.loads(line) for line in journal_lines(c)]
    middle = len(events) // 2
    events[middle], events[middle + 1] = events[middle + 1], events[middle]
    write_journal(c, rechained(events))


def delete_line(position: float) -> Tampering:
    def tamper(c: Context) -> None:
        lines = journal_lines(c)
        del lines[min(len(lines) - 1, int(position * len(lines)))]
        write_journal(c, lines)

    return tamper


def duplicate_line(c: Context) -> None:
    lines = journal_lines(c)
    lines.insert(len(lines) // 2, lines[len(lines) // 2])
    write_journal(c, lines)


def append_chained_line(c: Context) -> None:
    lines = journal_lines(c)
    extra = {"event": "run.aborted", "at": "2026-11-20T15:00:00Z", "reason": "forged", "prev": line_digest(lines[-1])}
    write_journal(c, [*lines, json.dumps(extra, separators=(",", ":")).encode() + b"\n"])


def delete(name: str) -> Tampering:
    return lambda c: (c.run / name).unlink()


def rename(name: str, to: str) -> Tampering:
    def tamper(c: Context) -> None:
        (c.run / name).rename(c.run / to)

    return tamper


def add_file(c: Context) -> None:
    (c.run / "attestation.txt").write_text("approved by nobody\n")


def truncate(name: str, keep: float) -> Tampering:
    def tamper(c: Context) -> None:
        path = c.run / name
        raw = path.read_bytes()
        path.write_bytes(raw[: int(len(raw) * keep)])

    return tamper


def manifest_edit(change: Callable[[JsonObject], None]) -> Tampering:
    def tamper(c: Context) -> None:
        path = c.run / "manifest.json"
        document = json.loads(path.read_text())
        change(document)
        path.write_text(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=True) + "\n")

    return tamper


def manifest_digest(d: JsonObject) -> None:
    entry = next(f for f in d["files"] if f["path"] == "result.json")
    entry["sha256"] = hashlib.sha256(b"forged").hexdigest()


def manifest_drop_report(d: JsonObject) -> None:
    d["files"] = [f for f in d["files"] if f["path"] != "report.md"]


def manifest_head(d: JsonObject) -> None:
    d["journal"]["chain_head"] = "0" * 64


def manifest_run_id(d: JsonObject) -> None:
    d["run_id"] = "20261120T140000Z-s43"


def manifest_whitespace(c: Context) -> None:
    path = c.run / "manifest.json"
    path.write_text(json.dumps(json.loads(path.read_text()), indent=4, sort_keys=True) + "\n")


def edit_report(c: Context) -> None:
    report = c.run / "report.md"
    text = report.read_text()
    report.write_text(text.replace("**Status: FAILED.**", "**Status: PASSED.**").replace("**MISSED**", "met") + "\nSigned off.\n")


def then(*steps: Tampering) -> Tampering:
    def tamper(c: Context) -> None:
        for step in steps:
            step(c)

    return tamper


def drsim_seal(*extra: str) -> Tampering:
    """`drsim evidence seal` (with the run's key when signed): it may refuse; the tampering stands either way."""

    def tamper(c: Context) -> None:
        key = ("--sign-key", str(c.key)) if c.key is not None else ()
        cli("evidence", "seal", c.run, *key, *extra)

    return tamper


def drsim_report(c: Context) -> None:
    """`drsim report`, which renders the reports again and seals the run (it may refuse)."""
    cli("report", c.run, *(("--sign-key", str(c.key)) if c.key is not None else ()))


def library_seal(c: Context) -> None:
    """A manifest rebuilt by other means than `drsim evidence seal` (no checks), with the run's key if signed."""
    from drsim.report.evidence import load_signing_key

    seal(c.run, load_signing_key(c.key) if c.key is not None else None)


def library_seal_unsigned(c: Context) -> None:
    (c.run / "manifest.sig").unlink(missing_ok=True)
    seal(c.run, None)


def swap_with(other: Callable[[Context], Path]) -> Tampering:
    def tamper(c: Context) -> None:
        source = other(c)
        shutil.rmtree(c.run)
        shutil.copytree(source, c.run)

    return tamper


def same_drill_other_seed(c: Context) -> Path:
    return c.run.with_name(c.run.name.replace("-s42", "-s43"))


def other_drill(c: Context) -> Path:
    """A run of another drill (of the same drill, other seed, when only one drill is run)."""
    drills = sorted(p for p in c.out.iterdir() if p.is_dir() and p != c.run.parent)
    if not drills:
        return same_drill_other_seed(c)
    return next(d for d in sorted(drills[0].iterdir()) if d.name.endswith("-s42"))


def swap_manifest_from(other: Callable[[Context], Path]) -> Tampering:
    def tamper(c: Context) -> None:
        for name in ("manifest.json", "manifest.sig"):
            if (other(c) / name).exists():
                shutil.copy2(other(c) / name, c.run / name)

    return tamper


TAMPERINGS: dict[str, list[tuple[str, Tampering]]] = {
    "result.json field edited": [
        ("status flipped", result_edit(flip_status)),
        ("rto_s changed", result_edit(first_app("rto_s", 1.0))),
        ("rpo_met set", result_edit(first_app("rpo_met", True))),
        ("consistent set", result_edit(first_app("consistent", True))),
        ("healthy_at moved", result_edit(first_app("healthy_at", "2026-11-20T14:01:00Z"))),
        ("task status", result_edit(first_task("status", "succeeded"))),
        ("cleanup status", result_edit(lambda d: d["cleanup"].update(status="skipped"))),
        ("leftover added", result_edit(add_leftover)),
        ("seed changed", result_edit(lambda d: d.update(seed=d["seed"] + 1))),
        ("incident moved", result_edit(lambda d: d.update(incident_at="2026-11-20T13:00:00Z"))),
    ],
    "journal line edited": [
        ("first line", journal_edit(0.0)),
        ("middle line", journal_edit(0.5)),
        ("last line", journal_edit(1.0)),
        ("status forged, chain and result.json redone", forged_journal_and_result),
        ("line appended with a valid prev", append_chained_line),
        ("line duplicated", duplicate_line),
    ],
    "journal lines removed or reordered": [
        ("first line removed", delete_line(0.0)),
        ("middle line removed", delete_line(0.5)),
        ("last line removed", delete_line(1.0)),
        ("two lines swapped", reorder),
        ("two lines swapped, chain redone", reorder_rechained),
    ],
    "file deleted, renamed or added": [
        ("result.json deleted", delete("result.json")),
        ("journal.jsonl deleted", delete("journal.jsonl")),
        ("report.md deleted", delete("report.md")),
        ("report.html deleted", delete("report.html")),
        ("timeline.svg deleted", delete("timeline.svg")),
        ("manifest.json deleted", delete("manifest.json")),
        ("report.md renamed", rename("report.md", "report-final.md")),
        ("result.json renamed", rename("result.json", "result.old.json")),
        ("file added", add_file),
    ],
    "manifest edited": [
        ("a digest changed", manifest_edit(manifest_digest)),
        ("an entry removed", manifest_edit(manifest_drop_report)),
        ("chain head changed", manifest_edit(manifest_head)),
        ("run id changed", manifest_edit(manifest_run_id)),
        ("reformatted", manifest_whitespace),
        ("taken from another run", swap_manifest_from(same_drill_other_seed)),
    ],
    "edited, then sealed again": [
        ("result.json, drsim evidence seal", then(result_edit(flip_status), drsim_seal())),
        ("result.json, drsim evidence seal --force", then(result_edit(flip_status), drsim_seal("--force"))),
        ("report.md, drsim evidence seal", then(edit_report, drsim_seal())),
        ("report.md, drsim evidence seal --force", then(edit_report, drsim_seal("--force"))),
        ("manifest deleted, report.md, drsim evidence seal", then(delete("manifest.json"), edit_report, drsim_seal())),
        ("result.json, manifest rebuilt", then(result_edit(flip_status), library_seal)),
        ("report.md, manifest rebuilt", then(edit_report, library_seal)),
        ("report.md, manifest rebuilt unsigned", then(edit_report, library_seal_unsigned)),
        ("journal and result.json forged, manifest rebuilt", then(forged_journal_and_result, library_seal)),
        ("file added, manifest rebuilt", then(add_file, library_seal)),
        ("file added, manifest rebuilt, drsim report", then(add_file, library_seal, drsim_report)),
        ("report.md, manifest rebuilt, drsim report", then(edit_report, library_seal, drsim_report)),
    ],
    "whole run swapped": [
        ("with a run of the same drill", swap_with(same_drill_other_seed)),
        ("with a run of another drill", swap_with(other_drill)),
        ("with another run, then drsim evidence seal", then(swap_with(same_drill_other_seed), drsim_seal())),
        ("with another run, manifest rebuilt", then(swap_with(same_drill_other_seed), library_seal)),
    ],
    "truncated": [
        ("result.json to half", truncate("result.json", 0.5)),
        ("journal.jsonl to half", truncate("journal.jsonl", 0.5)),
        ("journal.jsonl mid-line at the end", truncate("journal.jsonl", 0.999)),
        ("manifest.json to half", truncate("manifest.json", 0.5)),
        ("report.html to half", truncate("report.html", 0.5)),
        ("result.json emptied", truncate("result.json", 0.0)),
    ],
}


def swap_signature(c: Context) -> None:
    shutil.copy2(same_drill_other_seed(c) / "manifest.sig", c.run / "manifest.sig")


SIGNED_ONLY: list[tuple[str, str, Tampering]] = [
    ("file deleted, renamed or added", "manifest.sig deleted", delete("manifest.sig")),
    ("manifest edited", "signature taken from another run", swap_signature),
    ("truncated", "manifest.sig to half", truncate("manifest.sig", 0.5)),
]


def verdict(run: Path, public_key: Path | None) -> str:
    """ "failed": verify exits non-zero; "disclosed": it exits 0 but reports a forced re-seal; "intact": undetected."""
    code, output = cli("evidence", "verify", run, *(("--public-key", public_key) if public_key is not None else ()))
    if code != 0:
        return "failed"
    return "disclosed" if "sealed again with --force" in output else "intact"


@dataclass
class Tally:
    total: Counter[str]
    found: Counter[str]
    missed: list[str]
    disclosed: int = 0


def tamper_all(pristine: Path, runs: list[Path], work: Path, key: Path | None, public_key: Path | None) -> Tally:
    tally = Tally(Counter(), Counter(), [])
    cases = [(category, name, fn) for category, items in TAMPERINGS.items() for name, fn in items]
    if key is not None:
        cases += SIGNED_ONLY
    number = 0
    for run in runs:
        for category, name, tamper in cases:
            number += 1
            out = copy_out(pristine, work / f"case-{number}")
            target = out / run.relative_to(pristine)
            tamper(Context(target, out, key))
            tally.total[category] += 1
            found = verdict(target, public_key)
            if found != "intact":
                tally.found[category] += 1
                tally.disclosed += found == "disclosed"
            else:
                tally.missed.append(f"{run.parent.name}/{run.name}: {category}: {name}")
            shutil.rmtree(out)
    return tally


def generated_keys(directory: Path) -> tuple[Path, Path]:
    private = ed25519.Ed25519PrivateKey.generate()
    private_pem, public_pem = directory / "sign.pem", directory / "sign.pub.pem"
    private_pem.write_bytes(
        private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public_pem.write_bytes(private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return private_pem, public_pem


def report(label: str, tally: Tally) -> bool:
    total, found = sum(tally.total.values()), sum(tally.found.values())
    print(f"\n{label}: {found}/{total} tamperings detected ({100 * found / total:.1f} %)")
    print(f"  ({found - tally.disclosed} by verify exiting 1, {tally.disclosed} sealed over with --force and reported as such)")
    for category in tally.total:
        print(f"  {category:<40} {tally.found[category]:>4}/{tally.total[category]:<4}")
    for miss in tally.missed:
        print(f"  UNDETECTED {miss}")
    return found == total


def main_bench() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--drills", type=int, default=len(DRILLS), help=f"how many example drills to use (1-{len(DRILLS)})")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it (default: a temporary one, removed)")
    options = parser.parse_args()
    drills = DRILLS[: max(1, min(len(DRILLS), options.drills))]
    with tempfile.TemporaryDirectory(prefix="drsim-tamper-") as scratch:
        base = options.keep or Path(scratch)
        base.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        key, public_key = generated_keys(base)
        unsigned_out, signed_out = base / "unsigned" / "reports", base / "signed" / "reports"
        unsigned_runs = make_out(unsigned_out, drills, None)
        signed_runs = make_out(signed_out, drills, key)
        print(f"{len(drills)} drills x {len(SEEDS)} seeds, sealed unsigned and signed, in {time.perf_counter() - started:.1f} s")
        unsigned = tamper_all(unsigned_out, unsigned_runs, base / "work-unsigned", None, None)
        signed = tamper_all(signed_out, signed_runs, base / "work-signed", key, public_key)
        ok = report("unsigned (verified without a key)", unsigned)
        ok = report("signed (verified with --public-key)", signed) and ok
        print(f"\nin {time.perf_counter() - started:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main_bench())
