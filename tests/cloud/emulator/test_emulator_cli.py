"""`drsim emulator serve`: bad input exits 2 with a message; a good world is served until interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request

from arm_session import DATA
from click.testing import CliRunner

from drsim.cli import main
from drsim.cloud.emulator.world import ArmSettings, StorageAccountSpec, options_from_cli


def serve(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["emulator", "serve", *args])
    return result.exit_code, result.output


def test_a_world_needs_a_drill_or_an_estate_and_a_plan() -> None:
    code, output = serve("--estate", str(DATA / "estate.yaml"))
    assert code == 2
    assert "give --drill D, or --estate E and --plan P" in output


def test_bad_options_exit_2_with_what_to_write() -> None:
    world = ["--estate", str(DATA / "estate.yaml"), "--plan", str(DATA / "plan.yaml")]
    assert serve(*world, "--speed", "0")[0] == 2
    assert serve(*world, "--speed", "inf")[0] == 2
    code, output = serve(*world, "--incident-at", "2026-11-20T14:00:00")
    assert code == 2 and "has no time zone" in output
    code, output = serve("--estate", "missing.yaml", "--plan", str(DATA / "plan.yaml"))
    assert code == 2 and "missing.yaml: no such file" in output


def test_bad_arm_settings_exit_2_with_what_to_write() -> None:
    world = ["--estate", str(DATA / "estate.yaml"), "--plan", str(DATA / "plan.yaml")]
    code, output = serve(*world, "--storage-account", "stdrsim")
    assert code == 2 and "write NAME:RESOURCE_GROUP:REGION[:SKU]" in output and "Traceback" not in output
    code, output = serve(*world, "--storage-account", "st:drsim-drills:eastus2:Floppy_LRS")
    assert code == 2 and "SKU Floppy_LRS is not one of" in output
    assert serve(*world, "--page-size", "0")[0] == 2
    assert serve(*world, "--vcpu-quota", "-1")[0] == 2


def test_arm_settings_from_the_command_line() -> None:
    options = options_from_cli(
        estate=str(DATA / "estate.yaml"),
        plan=str(DATA / "plan.yaml"),
        drill=None,
        seed=None,
        speed=60.0,
        incident_at=None,
        page_size=5,
        writable_groups=["drsim-drills", "tiny-prod"],
        vcpu_quota=8,
        storage_accounts=["st:drsim-drills:eastus2"],
    )
    assert options.arm == ArmSettings(
        page_size=5,
        writable_groups=("drsim-drills", "tiny-prod"),
        vcpu_quota=8,
        storage_accounts=(StorageAccountSpec("st", "drsim-drills", "eastus2", "Standard_LRS"),),
    )


def test_an_invalid_document_is_reported_with_its_location(tmp_path) -> None:
    broken = tmp_path / "estate.yaml"
    broken.write_text((DATA / "estate.yaml").read_text().replace("os: linux", "os: beos"))
    code, output = serve("--estate", str(broken), "--plan", str(DATA / "plan.yaml"))
    assert code == 2
    assert f"{broken}:" in output and "beos" in output
    assert "Traceback" not in output


def test_serve_prints_its_endpoint_subscription_and_groups_and_answers_until_interrupted() -> None:
    command = [
        sys.executable,
        "-c",
        "from drsim.cli import main; main()",
        "emulator",
        "serve",
        "--estate",
        str(DATA / "estate.yaml"),
        "--plan",
        str(DATA / "plan.yaml"),
        "--incident-at",
        "2026-11-20T14:00:00Z",
        "--speed",
        "600",
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("drsim ARM emulator listening on http://127.0.0.1:")
        url = first.rsplit(" ", 1)[-1].strip()
        subscription = process.stdout.readline().split(":", 1)[1].strip()
        groups = process.stdout.readline()
        assert "drsim-drills" in groups and "tiny-prod" in groups
        request = urllib.request.Request(
            f"{url}/subscriptions/{subscription}/resourcegroups?api-version=2024-07-01", headers={"Authorization": "Bearer t"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert [g["name"] for g in json.load(response)["value"]] == ["drsim-drills", "tiny-prod"]
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "drsim ARM emulator stopped" in out
