"""Reports (Markdown and self-contained HTML), the evidence bundle, and JUnit XML of drill runs.

drsim.drills calls, at the end of `drsim drill run` (with the run's series from the history store):
    render_run(run_dir, formats=("md", "html"), history=series)    -> list[Path]
    write_manifest(run_dir, sign_key=None)                          -> Path
    write_junit_for_run(run_dir, junit_path)                        -> Path   (with --junit)
Heavy modules (matplotlib, markdown, cryptography) are imported only when these run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

FORMATS = ("md", "html")
"""The report formats drsim writes."""

if TYPE_CHECKING:
    from drsim.report.evidence import Verification
    from drsim.report.view import PastRun


def render_run(
    run_dir: str | os.PathLike[str],
    formats: Sequence[str] = ("md", "html"),
    history: Sequence[PastRun] | None = None,
    *,
    controls: Sequence[str] | None = None,
) -> list[Path]:
    """Write report.md (+ its SVG charts) and report.html of a run directory; see drsim.report.render."""
    from drsim.report.render import render_run as render

    return render(run_dir, formats, history, controls=controls)


def write_manifest(run_dir: str | os.PathLike[str], sign_key: str | os.PathLike[str] | None = None) -> Path:
    """Seal a run directory: manifest.json (+ manifest.sig with an Ed25519 PEM key); see drsim.report.evidence."""
    from drsim.report.evidence import write_manifest as write

    return write(run_dir, sign_key)


def verify_bundle(run_dir: str | os.PathLike[str], public_key: str | os.PathLike[str] | None = None) -> Verification:
    """Check a sealed run directory; see drsim.report.evidence."""
    from drsim.report.evidence import verify_bundle as verify

    return verify(run_dir, public_key)


def write_junit_for_run(run_dir: str | os.PathLike[str], path: str | os.PathLike[str]) -> Path:
    """JUnit XML of a run directory; see drsim.report.junit."""
    from drsim.report.junit import write_junit_for_run as write

    return write(run_dir, path)


__all__ = ["render_run", "verify_bundle", "write_junit_for_run", "write_manifest"]
