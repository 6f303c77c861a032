"""`drsim discover` never writes over documents already in --out unless told to with --force."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import drsim.cloud.emulator.server as server
import drsim.cloud.emulator.world as world_module
from drsim.cli import main
from drsim.model.checks import validate_path

DRILLS = Path(__file__).resolve().parents[3] / "drills"
SUBSCRIPTION = "6f1c2a0e-1d2b-4c3d-9e8f-0a1b2c3d4e5f"


@pytest.mark.parametrize("name", ["estate.yaml", "plan.yaml"])
def test_an_existing_document_is_refused_naming_it_before_azure_is_asked(tmp_path: Path, name: str) -> None:
    existing = tmp_path / name
    existing.write_text("# hand-edited, keep me\n")
    # Nothing listens on port 1: had discovery started, the error would be about the endpoint.
    args = ["discover", "--subscription", SUBSCRIPTION, "--out", str(tmp_path), "--endpoint", "http://127.0.0.1:1"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert result.stderr == f"drsim: {existing}: already exists; discover writes no document over another (give --force to replace it)\n"
    assert existing.read_text() == "# hand-edited, keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_force_replaces_both_documents(tmp_path: Path) -> None:
    for name in ("estate.yaml", "plan.yaml"):
        (tmp_path / name).write_text("# old\n")
    options = world_module.EmulatorOptions(estate=DRILLS / "estates" / "contoso.yaml", plan=DRILLS / "plans" / "daily-backup.yaml")
    with server.EmulatorThread(options) as handle:
        args = ["discover", "--subscription", handle.subscription_id, "--out", str(tmp_path), "--endpoint", handle.url,
                "--resource-group", "contoso-prod", "--recovery-region", "centralus", "--force"]  # fmt: skip
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert validate_path(tmp_path / "estate.yaml") == [] and validate_path(tmp_path / "plan.yaml") == []
