"""Comparisons over the store test estate, written for one test (imported by the tests beside it)."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent / "data"
WINDOW = "window: 30d\nwindow_end: 2026-11-01T00:00:00Z\nseed: 3\n"
WINDOW_END = "2026-11-01T00:00:00Z"


def comparison(
    tmp_path: Path, candidates: list[tuple[str, str, str]], extra: str = "", name: str = "c", *, window_end: bool = True
) -> Path:
    """A Comparison over the store estate in tmp_path, referencing the test data by absolute path."""
    lines = [f"  - {{name: {n}, plan: {DATA / 'plans' / p}, runbook: {DATA / 'runbooks' / r}}}" for n, p, r in candidates]
    text = (
        f"apiVersion: drsim/v1\nkind: Comparison\nmetadata: {{name: {name}}}\nestate: {DATA / 'estate.yaml'}\ncandidates:\n"
        + "\n".join(lines)
        + "\ntrials: 3\n"
        + (WINDOW if window_end else WINDOW.replace(f"window_end: {WINDOW_END}\n", ""))
        + extra
    )
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path
