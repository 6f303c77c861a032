"""What a finished run gets before `drsim drill run` returns: its reports, its place in the history
store, JUnit XML when asked, and last the sealed manifest (so that it covers every file written)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from drsim.errors import ExecutionError, StoreError
from drsim.report.evidence import load_signing_key, seal
from drsim.report.junit import write_junit_for_run
from drsim.report.recorded import read_run
from drsim.report.render import FORMATS, record_run, record_seal, render_run
from drsim.store.history import store_of_run


def finish_run(
    run_dir: str | os.PathLike[str],
    *,
    formats: Sequence[str] = FORMATS,
    store: str | os.PathLike[str] | None = None,
    junit: str | os.PathLike[str] | None = None,
    sign_key: str | os.PathLike[str] | None = None,
    controls: Sequence[str] | None = None,
) -> list[Path]:
    """Render the reports (no formats: none) and record the run in `store` (default: history.sqlite of
    the output directory, run_dir/../..), write JUnit XML to `junit`, seal the run directory (signed
    with `sign_key`, an Ed25519 PEM) and record the seal in the store; return every path written."""
    key = load_signing_key(sign_key) if sign_key is not None else None  # a bad key is refused before anything is written
    store = store if store is not None else store_of_run(run_dir)
    unusable: StoreError | None = None
    try:
        written = _record_and_render(run_dir, formats, store, controls)
    except StoreError as exc:  # checked before the run, but it broke or was locked meanwhile: finish the run without it
        unusable, store = exc, None
        written = _record_and_render(run_dir, formats, None, controls)
    if junit is not None:
        written.append(write_junit_for_run(run_dir, junit))
    written.append(seal(Path(run_dir), key))
    record_seal(run_dir, store)  # what sealed it, kept where the run's files cannot change it
    if unusable is not None:
        raise ExecutionError(
            f"{unusable.format_message()}; the run {run_dir} is complete and sealed, but not recorded: "
            f"`drsim report {run_dir} --store STORE` records it"
        )
    return written


def _record_and_render(
    run_dir: str | os.PathLike[str], formats: Sequence[str], store: str | os.PathLike[str] | None, controls: Sequence[str] | None
) -> list[Path]:
    if formats:
        return render_run(run_dir, formats, store, controls=controls)
    record_run(read_run(run_dir), store)
    return []
