"""Without the `azure` extra, the commands that need the Azure SDK say which extra to install (exit 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

# A fresh interpreter in which one module of the SDK cannot be imported, as in the plain install.
WITHOUT_SDK = """
import sys
sys.modules[sys.argv[1]] = None
from click.testing import CliRunner
from drsim.cli import main
result = CliRunner().invoke(main, sys.argv[2:])
print(repr(result.exception) if result.exception and not isinstance(result.exception, SystemExit) else "no exception")
print(result.output)
sys.exit(result.exit_code)
"""


def run_without(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", WITHOUT_SDK, module, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def azure_drill(tmp_path: Path) -> Path:
    drill = tmp_path / "drill.yaml"
    drill.write_text(
        f"""apiVersion: drsim/v1
kind: Drill
metadata: {{name: on-azure}}
runbook: {REPO / "runbooks" / "shop-backup-restore.yaml"}
estate: {REPO / "drills" / "estates" / "contoso.yaml"}
plan: {REPO / "drills" / "plans" / "daily-backup.yaml"}
provider: azure
incident_at: 2026-11-20T14:00:00Z
azure:
  subscription_id: 6f1c2a0e-1d2b-4c3d-9e8f-0a1b2c3d4e5f
  resource_group: drsim-drills
  endpoint: http://127.0.0.1:9
"""
    )
    return drill


@pytest.mark.parametrize("module", ["azure.mgmt.compute", "azure.identity.aio"])
def test_discover_without_the_sdk_names_the_extra(tmp_path: Path, module: str) -> None:
    done = run_without(
        module, "discover", "--subscription", "6f1c2a0e-1d2b-4c3d-9e8f-0a1b2c3d4e5f", "--out", str(tmp_path / "x"), cwd=tmp_path
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout.startswith("no exception")
    assert f"drsim discover needs the Azure SDK, and {module} is not installed: pip install 'drsim[azure]'" in done.stdout
    assert "ModuleNotFoundError" not in done.stdout + done.stderr


def test_an_azure_drill_without_the_sdk_names_the_extra(tmp_path: Path) -> None:
    drill = azure_drill(tmp_path)
    done = run_without("azure.mgmt.compute", "drill", "run", str(drill), "--out", str(tmp_path / "reports"), cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout.startswith("no exception")
    assert (
        f"{drill}: provider: azure needs the Azure SDK, and azure.mgmt.compute is not installed: pip install 'drsim[azure]'" in done.stdout
    )
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").rglob("journal.jsonl"))


def test_validating_an_azure_drill_needs_no_sdk(tmp_path: Path) -> None:
    done = run_without("azure.mgmt.compute", "validate", str(azure_drill(tmp_path)), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert ": valid" in done.stdout
