"""failures.csv's texts say what happened (through the CLI)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from drsim.cli import main
from drsim.compare.generated import write_comparison


def test_an_rpo_missed_by_inconsistent_data_is_not_called_over_the_objective(tmp_path: Path) -> None:
    """The snapshot clone of the generated estate reads back a striped volume captured at different
    instants: its RPO (minutes) is within the objective (7h) and still missed; the cause said
    "measured RPO 11m 26s over the objective 7h 00m"."""
    path = write_comparison(tmp_path / "docs", 8, trials=2, sizes=(3, 3, 2))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["compare", str(path), "-q", "--validate", "0", "--workers", "1", "--window-end", "2026-11-01T00:00:00Z", "--out", str(out)]
    )
    assert result.exit_code in (0, 1), result.output
    causes = pd.read_csv(out / "failures.csv", keep_default_na=False)
    missed = causes[(causes["candidate"] == "snapshots-6h") & (causes["error_kind"] == "rpo-missed")]
    assert len(missed) == 1
    text = missed.iloc[0]["example_error"]
    assert "within the objective 7h 00m, but the data read back was inconsistent or corrupted" in text, text
    assert "over the objective" not in text
    # The check that found it is its own cause.
    assert "is inconsistent" in " ".join(causes[causes["candidate"] == "snapshots-6h"]["example_error"])
