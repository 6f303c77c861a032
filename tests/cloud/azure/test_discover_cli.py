"""`drsim discover`: writes valid documents from the emulator; bad input is exit 2 without a traceback."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

import drsim.cloud.emulator.server as server
import drsim.cloud.emulator.world as world_module
from drsim.cli import main
from drsim.model.checks import validate_path

DRILLS = Path(__file__).resolve().parents[3] / "drills"
ESTATE = DRILLS / "estates" / "contoso.yaml"
PLAN = DRILLS / "plans" / "daily-backup.yaml"


def test_discover_writes_an_estate_and_a_plan_that_validate(tmp_path):
    options = world_module.EmulatorOptions(estate=ESTATE, plan=PLAN, speed=60.0)
    with server.EmulatorThread(options) as handle:
        args = [
            "discover",
            "--subscription",
            handle.subscription_id,
            "--out",
            str(tmp_path),
            "--endpoint",
            handle.url,
            "--resource-group",
            "contoso-prod",
            "--recovery-region",
            "centralus",
        ]
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 'estate.yaml'} and {tmp_path / 'plan.yaml'}" in result.stdout
    assert "note: used_gib is the provisioned size" in result.stderr
    assert validate_path(tmp_path / "estate.yaml") == [] and validate_path(tmp_path / "plan.yaml") == []


def test_plain_http_off_loopback_is_refused_as_usage(tmp_path):
    args = [
        "discover",
        "--subscription",
        "6f1c2a0e-1d2b-4c3d-9e8f-0a1b2c3d4e5f",
        "--out",
        str(tmp_path),
        "--endpoint",
        "http://10.1.2.3:8080",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "is not Azure Resource Manager: drsim sends credentials only to" in result.stderr
    assert "Traceback" not in result.output


def test_an_empty_resource_group_is_said_plainly(tmp_path):
    options = world_module.EmulatorOptions(estate=ESTATE, plan=PLAN, speed=60.0)
    with server.EmulatorThread(options) as handle:
        args = [
            "discover",
            "--subscription",
            handle.subscription_id,
            "--out",
            str(tmp_path),
            "--endpoint",
            handle.url,
            "--resource-group",
            "drsim-drills",
        ]
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "resource group drsim-drills has no VMs to discover" in result.stderr
