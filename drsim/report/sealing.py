"""`drsim evidence seal` and `drsim evidence verify`: the evidence bundle (drsim.report.evidence) plus
what makes a seal mean something after the fact.

- result.json must be the file its journal gives: `verify` recomputes it from the journal and compares
  it byte for byte, and `seal` refuses a run where it is not (no option overrides that).
- A run sealed before is sealed again only as it was sealed. Changes since (an edited report, an
  added file, a removed manifest) are refused unless `--force`, which appends an
  `evidence.resealed` event to the journal (chained, so under the new seal) naming every change,
  and renders the reports again so that they show it.
- The history store keeps, for every run it records, the chain head, the manifest's SHA-256 and the
  signing key's SHA-256 of the seal drsim made (drsim.report.render.record_seal). `verify` compares
  them: a run edited and sealed again by other means, or swapped for another run, no longer matches.
- A signed bundle is verified with its public key; without one `verify` fails unless told
  `--no-signature-check`.

The store's record comes in as a plain RecordedSeal (the caller reads the store), so this module
does not depend on drsim.store.
"""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from drsim import __version__
from drsim.errors import DocumentError, DrsimError, UsageError
from drsim.measure.events import EvidenceResealed
from drsim.report.evidence import (
    JOURNAL,
    MANIFEST,
    SIGNATURE,
    RecordedSeal,
    Verification,
    check_journal_file,
    load_signing_key,
    seal,
    store_problems,
    verify_bundle,
)
from drsim.report.recorded import RESULT, RecordedRun, check_result_matches_journal, read_run, result_problems
from drsim.report.render import FORMATS, record_seal, render_run

__all__ = ["RecordedSeal", "SealOutcome", "seal_run", "store_problems", "verify_run"]


def _message(exc: DrsimError) -> str:
    if isinstance(exc, DocumentError):
        return "; ".join(str(p) for p in exc.problems)
    return exc.format_message()


def _forced_notes(run: RecordedRun) -> list[str]:
    return [
        f"sealed again with --force at {r.at.isoformat().replace('+00:00', 'Z')} by {r.user} on {r.host}, over: {'; '.join(r.changes)}"
        for r in run.reseals
    ]


def verify_run(
    run_dir: str | os.PathLike[str],
    public_key: str | os.PathLike[str] | None = None,
    *,
    signature_check: bool = True,
    recorded: RecordedSeal | None = None,
    store: Path | None = None,
) -> Verification:
    """`drsim evidence verify`: the bundle as sealed (every file, the journal chain, the signature with
    `public_key`), result.json recomputed from the journal, and the seal against the store's record.

    `signature_check=False` accepts a signed bundle without checking its signature; `store` is the
    store that was looked in (a note says when it holds no record of the run)."""
    directory = Path(run_dir)
    found = verify_bundle(directory, public_key)
    if found.signed and public_key is None and signature_check:
        found.problems.append(
            f"{SIGNATURE}: the run is signed, but its signature was not checked: pass --public-key PEM "
            "(or --no-signature-check to accept it unchecked)"
        )
    try:
        run = read_run(directory)
    except DrsimError as exc:
        found.problems.append(f"{RESULT}: cannot be recomputed from {JOURNAL}: {_message(exc)}")
    else:
        differences = result_problems(run)
        found.problems.extend(f"{RESULT}: {p}" for p in differences)
        found.result_recomputed = not differences
        found.notes.extend(_forced_notes(run))
    if recorded is not None:
        mismatches = store_problems(directory, recorded)
        found.problems.extend(mismatches)
        if recorded.manifest_sha256 is None:
            found.notes.append(f"{recorded.store} recorded the run before drsim recorded seals: the seal was not compared with it")
        elif not mismatches:
            found.store = recorded.store
    elif store is not None:
        found.notes.append(f"no run recorded in {store} for this directory: the seal was not compared with a history store")
    return found


@dataclass(frozen=True)
class SealOutcome:
    manifest: Path
    written: tuple[Path, ...]  # reports rendered again after a forced re-seal
    changes: tuple[str, ...]  # what --force sealed over (empty: nothing had changed)
    recorded: bool  # the seal was recorded in the history store


def _append_event(journal: Path, event: EvidenceResealed) -> None:
    """Append one event to a finished journal, chained to its last line (one write, like the engine's)."""
    from drsim.engine.journal import encode

    chain = check_journal_file(journal)
    if chain.broken is not None:
        raise UsageError(f"{journal}: the hash chain is broken ({chain.broken.message}); it cannot be sealed again, not even with --force")
    line = encode(event, chain.head)
    fd = os.open(journal, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, line + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


def seal_run(
    run_dir: str | os.PathLike[str],
    sign_key: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
    recorded: RecordedSeal | None = None,
    store: str | os.PathLike[str] | None = None,
    now: datetime | None = None,
) -> SealOutcome:
    """`drsim evidence seal`: write the run's manifest (signed with `sign_key`) once every check passes,
    and record the seal in `store` when the run is recorded there.

    Refused, whatever `force` says: result.json not the file the journal gives, a broken journal
    chain, a signed run without a key. Refused unless `force`: a run sealed before (by its manifest or
    by the store's record) whose files changed since.
    """
    directory = Path(run_dir)
    if not directory.is_dir():
        raise UsageError(f"{directory}: not a directory (expected a run directory such as reports/<drill>/<run-id>)")
    key = load_signing_key(sign_key) if sign_key is not None else None
    if (directory / SIGNATURE).exists() and key is None:
        raise UsageError(
            f"{directory}: the run is signed ({SIGNATURE}); sealing it without a key would drop the signature: pass --sign-key PEM"
        )
    run = read_run(directory)
    check_result_matches_journal(run)
    changes: list[str] = []
    if (directory / MANIFEST).exists():
        changes.extend(verify_bundle(directory).problems)
    if recorded is not None:
        changes.extend(p for p in store_problems(directory, recorded) if p not in changes)
    written: list[Path] = []
    if changes:
        if not force:
            raise UsageError(
                f"{directory}: the run changed since it was sealed ({'; '.join(changes)}); refusing to seal it over the changes: "
                f"`drsim evidence verify {directory}` shows them, and `drsim evidence seal --force` seals them, recorded in the journal"
            )
        moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        _append_event(directory / JOURNAL, EvidenceResealed(moment, tuple(changes), _user(), socket.gethostname(), __version__))
        formats = [f for f in FORMATS if (directory / f"report.{f}").exists()]
        if formats:  # the reports show the forced re-seal (and lose any edit made to them)
            store_path = Path(store) if store is not None and Path(store).is_file() else None
            written = render_run(directory, formats, store_path)
    manifest = seal(directory, key)
    return SealOutcome(manifest, tuple(written), tuple(changes), record_seal(directory, store))


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
