"""Checks that a command can write where it was told to, made before it does any work.

A drill can run for hours: finding only at its end that --out is read-only, that --junit points
into /proc or that --store is not a history store would leave an unsealed run behind. Each check
raises UsageError (exit 2) naming the path and the option, and leaves nothing behind.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from drsim.errors import DocumentError, UsageError
from drsim.model.documents import Drill
from drsim.model.loader import Loaded, load


def _lstat(path: Path) -> os.stat_result | None:
    """`path`'s own status (a symbolic link is not followed), None when nothing is there."""
    try:
        return path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return None


def _stat(path: Path, shown: str, option: str) -> os.stat_result | None:
    """`path`'s status through symbolic links, None when nothing is there; UsageError when it cannot be looked at."""
    try:
        return path.stat()
    except (FileNotFoundError, NotADirectoryError):
        if _lstat(path) is not None:
            raise UsageError(f"{shown}: {path} is a symbolic link to nothing ({option})") from None
        return None
    except OSError as exc:
        raise UsageError(f"{shown}: cannot look at {path}: {exc.strerror or exc} ({option})") from None


def _can_create_files_in(directory: Path) -> OSError | None:
    """Try it: create an unnamed (or at once removed) file there. Permission bits alone do not tell
    (root, read-only mounts, /proc), so a real attempt is the only honest check."""
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        return exc
    return None


def check_directory(path: str | os.PathLike[str], option: str, *, shown: str | None = None) -> None:
    """`path` is a directory drsim can create files in, or one it can create (with its parents).
    Problems name `shown` (default: `path`), the path as the user gave it."""
    shown = str(path) if shown is None else shown
    target = Path(os.path.abspath(path))
    named = Path(os.path.abspath(shown))
    for candidate in (target, *target.parents):
        found = _stat(candidate, shown, option)
        if found is None:
            continue
        if not stat.S_ISDIR(found.st_mode):
            what = "is not a directory" if candidate == named else f"cannot be created: {candidate} is not a directory"
            raise UsageError(f"{shown}: {what} ({option})")
        failure = _can_create_files_in(candidate)
        if failure is not None:
            reason = failure.strerror or str(failure)
            where = "cannot write in this directory" if candidate == named else f"cannot create files in {candidate}"
            raise UsageError(f"{shown}: {where}: {reason} ({option})")
        return


def check_output_file(path: str | os.PathLike[str], option: str) -> None:
    """drsim can write the file `path` (replacing it when it exists); its directory may still be missing."""
    shown = str(path)
    target = Path(os.path.abspath(path))
    found = _stat(target, shown, option)
    if found is not None:
        if stat.S_ISDIR(found.st_mode):
            raise UsageError(f"{shown}: is a directory, not a file ({option})")
        if stat.S_ISREG(found.st_mode):
            _check_file_opens_for_writing(target, shown, option)
    check_directory(target.parent, option, shown=shown)


def _check_file_opens_for_writing(path: Path, shown: str, option: str) -> None:
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND))  # opened, not written: the file is unchanged
    except OSError as exc:
        raise UsageError(f"{shown}: cannot write this file: {exc.strerror or exc} ({option})") from None


def check_history_store(path: str | os.PathLike[str], option: str) -> None:
    """`path` is a history store this drsim can record into, or one it can create."""
    shown = str(path)
    target = Path(path)
    found = _stat(target, shown, option)
    if found is None:
        check_directory(target.parent, option, shown=shown)
        return
    if stat.S_ISDIR(found.st_mode):
        raise UsageError(f"{shown}: is a directory, not a history store ({option})")
    if not stat.S_ISREG(found.st_mode):
        raise UsageError(f"{shown}: is not a regular file, not a history store ({option})")
    _check_file_opens_for_writing(target, shown, option)
    check_directory(target.parent, option, shown=shown)  # SQLite writes its journal beside the store
    from drsim.store import HistoryStore

    HistoryStore(target, create=False).close()  # not SQLite, or of a newer schema: UsageError naming the file


def check_sign_key(drill: Loaded[Drill]) -> None:
    """The drill's `evidence.sign_key` is a readable Ed25519 private key; else a problem located at that field."""
    key = drill.doc.evidence.sign_key
    if not key:
        return
    path = drill.path.parent / key  # relative to the drill file, like its other paths
    from drsim.report.evidence import load_signing_key  # the loader the sealing uses, so both agree on what is valid

    try:
        load_signing_key(path)
    except UsageError as exc:
        problem = drill.source.problem(("evidence", "sign_key"), f"evidence.sign_key: {exc.format_message()}")
        raise DocumentError([problem]) from None


def check_drill_run(
    drill_path: str | os.PathLike[str],
    *,
    out_dir: str | os.PathLike[str],
    resume: str | os.PathLike[str] | None,
    store: str | os.PathLike[str] | None,
    junit: str | os.PathLike[str] | None,
) -> None:
    """Everything `drsim drill run` will write, and the key it will sign with, checked before it runs."""
    from drsim.store import STORE_NAME, store_of_run

    drill = load(drill_path, Drill)
    if resume is None:
        check_directory(Path(out_dir) / drill.doc.name, "--out", shown=str(out_dir))
        default_store = Path(out_dir) / STORE_NAME
    else:
        run_dir = Path(resume)
        if not run_dir.is_dir():
            return  # the run itself says that there is no such run directory
        check_directory(run_dir, "--resume")
        from drsim.report.evidence import JOURNAL

        if (run_dir / JOURNAL).is_file():
            _check_file_opens_for_writing(run_dir / JOURNAL, str(run_dir / JOURNAL), "--resume")
        default_store = store_of_run(run_dir)
    check_history_store(store if store is not None else default_store, "--store")
    if junit is not None:
        check_output_file(junit, "--junit")
    check_sign_key(drill)
