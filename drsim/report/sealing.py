"""`drsim evidence seal` and `drsim evidence verify`: the evidence bundle (drsim.report.evidence) plus
what makes a seal mean something after the fact.

- result.json must be the file its journal gives: `verify` recomputes it from the journal and compares
  it byte for byte, and `seal` refuses a run where it is not (no option overrides that).
- A run sealed before is sealed again only as it was sealed. Changes since (an edited report, an
  added file, a removed manifest) are refused unless `--force`, which appends an
  `evidence.resealed` event to the journal (chained, so under the new seal) naming every change,
  and renders the reports again so that they show it.
- The history store keeps, for every run it records, the chain head, the manifest's SHA-256 and the
  signing key's SHA-256 of the seal drsim made (drsim.drills.record_seal). `verify` compares
  them: a run edited and sealed again by other means, or swapped for another run, no longer matches.
- A signed bundle is verified with its public key; without one `verify` fails unless told
  `--no-signature-check`.
- A signed run is signed again only by the key that signed it (the same bytes again), unless
  `--re-sign`, which appends an `evidence.resigned` event (the old key, the new key, the manifest the
  old signature covered; chained, so under the new signature); `verify` shows the signing history.

The store's record comes in as a plain RecordedSeal (drsim.drills reads the store and wires these
checks into `drsim evidence seal`), so this module does not depend on drsim.store.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from drsim import __version__
from drsim.errors import DocumentError, DrsimError, UsageError
from drsim.measure.events import Event, EvidenceResealed, EvidenceResigned, RunAttested, Verdict
from drsim.report.evidence import (
    JOURNAL,
    MANIFEST,
    SIGNATURE,
    RecordedSeal,
    SignerChange,
    Verification,
    check_journal_file,
    load_signing_key,
    store_problems,
    verify_bundle,
)
from drsim.report.recorded import RESULT, RecordedRun, check_result_matches_journal, read_run, result_problems
from drsim.times import utc_text

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
__all__ = [
    "RecordedSeal",
    "changes_since_sealed",
    "check_sealable",
    "journal_forced_reseal",
    "journal_resign",
    "store_problems",
    "verify_run",
]


def _message(exc: DrsimError) -> str:
    if isinstance(exc, DocumentError):
        return "; ".join(str(p) for p in exc.problems)
    return exc.format_message()


def _forced_notes(run: RecordedRun) -> list[str]:
    return [f"sealed again with --force at {utc_text(r.at)} by {r.user} on {r.host}, over: {'; '.join(r.changes)}" for r in run.reseals]


def _signing_notes(run: RecordedRun) -> list[str]:
    """The run's signing history, from its journal's evidence.resigned events (none: nothing to say)."""
    if not run.resigns:
        return []
    notes = [
        f"signed again with another key (--re-sign) at {utc_text(r.at)} by {r.user} on {r.host}: the signature of key "
        f"{r.previous_key_sha256} (over the manifest with SHA-256 {r.previous_manifest_sha256 or 'unknown: there was none'}) "
        f"was replaced by one of key {r.key_sha256}"
        for r in run.resigns
    ]
    keys = [run.resigns[0].previous_key_sha256, *(r.key_sha256 for r in run.resigns)]
    history = ", then ".join(f"key {k[:16]}..." for k in keys)
    notes.append(f"signing history (key fingerprints, SHA-256 of the public key): {history} (the last signs the run now)")
    return notes


def verify_run(
    run_dir: str | os.PathLike[str],
    public_key: str | os.PathLike[str] | Ed25519PublicKey | None = None,
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
        found.notes.extend(_signing_notes(run))
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


def _append_event(journal: Path, event: Event) -> None:
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


def check_sealable(run_dir: Path, sign_key: str | os.PathLike[str] | None) -> tuple[RecordedRun, Ed25519PrivateKey | None]:
    """What `drsim evidence seal` refuses whatever its options, checked before anything is written:
    not a run directory, a bad key, a signed run without a key, a result.json the journal does not give.
    Gives the run and the loaded key."""
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: not a directory (expected a run directory such as reports/<drill>/<run-id>)")
    key = load_signing_key(sign_key) if sign_key is not None else None
    if (run_dir / SIGNATURE).exists() and key is None:
        raise UsageError(
            f"{run_dir}: the run is signed ({SIGNATURE}); sealing it without a key would drop the signature: pass --sign-key PEM"
        )
    run = read_run(run_dir)
    check_result_matches_journal(run)
    return run, key


def changes_since_sealed(run_dir: Path, recorded: RecordedSeal | None, *, force: bool) -> list[str]:
    """What changed since the run was sealed (by its manifest, or by the store's record when the manifest
    was removed); refused unless `force`. Empty for a run never sealed, or unchanged."""
    changes: list[str] = []
    if (run_dir / MANIFEST).exists():
        changes.extend(verify_bundle(run_dir).problems)
    if recorded is not None:
        changes.extend(p for p in store_problems(run_dir, recorded) if p not in changes)
    if changes and not force:
        raise UsageError(
            f"{run_dir}: the run changed since it was sealed ({'; '.join(changes)}); refusing to seal it over the changes: "
            f"`drsim evidence verify {run_dir}` shows them, and `drsim evidence seal --force` seals them, recorded in the journal"
        )
    return changes


def journal_forced_reseal(run_dir: Path, changes: Sequence[str], *, now: datetime | None = None) -> EvidenceResealed:
    """Append the evidence.resealed event of a forced seal to the run's journal (a broken chain is refused)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    event = EvidenceResealed(moment, tuple(changes), _user(), socket.gethostname(), __version__)
    _append_event(run_dir / JOURNAL, event)
    return event


def journal_resign(run_dir: Path, change: SignerChange, *, now: datetime | None = None) -> EvidenceResigned:
    """Append the evidence.resigned event of a --re-sign to the run's journal (a broken chain is refused),
    before the run is sealed and signed with the new key: the new signature covers it."""
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    event = EvidenceResigned(
        moment,
        change.previous_key_sha256,
        change.key_sha256,
        change.previous_manifest_sha256,
        _user(),
        socket.gethostname(),
        __version__,
    )
    _append_event(run_dir / JOURNAL, event)
    return event


def journal_attestation(
    run: RecordedRun, *, by: str, role: str, verdict: Verdict, note: str | None, now: datetime | None = None
) -> RunAttested:
    """Append a run.attested event to the run's journal, chained to its last line: who gives what verdict
    on the run as it stands (its result.json digest and the chain head before this line)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    event = RunAttested(moment, by, role, verdict, note, run.result_sha256, run.chain.head, _user(), socket.gethostname(), __version__)
    _append_event(run.run_dir / JOURNAL, event)
    return event


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
