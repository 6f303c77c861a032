"""What the program's commands read of a recorded run: when it was performed, the store's record of its seal and its findings."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from drsim.measure.events import RunStarted, parse_iso
from drsim.report.evidence import RecordedSeal
from drsim.store.history import HistoryStore, RunRecord


def performed_at(directory: Path, started: RunStarted | None = None) -> datetime | None:
    """When a run was performed on the wall clock: its manifest's `performed` end (its start when it
    never ended), else its journal's run.started; None for a run an older drsim made."""
    try:
        performed = json.loads((directory / "manifest.json").read_text(encoding="utf-8")).get("performed")
    except (OSError, ValueError, AttributeError):
        performed = None
    if isinstance(performed, dict):
        for key in ("ended", "started"):
            text = performed.get(key)
            if isinstance(text, str):
                try:
                    return parse_iso(text)
                except ValueError:
                    continue
    if started is not None and started.performed is not None:
        return started.performed.started
    return None


def recorded_seals(store: HistoryStore, records: Sequence[RunRecord]) -> dict[str, RecordedSeal]:
    """The store's record of how each run directory was sealed, by resolved directory."""
    seals = {}
    for record in records:
        if record.run_dir is None:
            continue
        directory = str(Path(record.run_dir).resolve())
        seal = store.seal_of(directory)
        if seal is not None:
            seals[directory] = RecordedSeal(store.path, seal.run_id, seal.chain_head, seal.manifest_sha256, seal.signing_key_sha256)
    return seals


def recorded_findings(store: HistoryStore, records: Sequence[RunRecord]) -> dict[str, list[dict[str, Any]]]:
    """The findings the store recorded for each run (drsim.store.findings' JSON, plus `closed` and
    `reverified`: when, or None), by resolved run directory; empty for a store from before findings."""
    from drsim.store.findings import finding_as_json

    directories = {record.seq: str(Path(record.run_dir).resolve()) for record in records if record.run_dir is not None}
    found: dict[str, list[dict[str, Any]]] = {}
    for finding in store.findings():
        directory = directories.get(finding.run_seq)
        if directory is not None:
            found.setdefault(directory, []).append(
                {**finding_as_json(finding), "closed": finding.closed_at, "reverified": finding.reverified_at}
            )
    return found
