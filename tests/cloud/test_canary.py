"""The canary report: parsed from Run Command output, rendered for the emulator, printed by the real script."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime

import pytest

from drsim.cloud.api import CanaryReading, VolumeReading
from drsim.cloud.canary import LINUX_SCRIPT, parse_report, render_report
from drsim.errors import ProviderError

VM = "/subscriptions/s/resourceGroups/drill/providers/Microsoft.Compute/virtualMachines/sql-01-restored"
T1 = datetime(2026, 11, 20, 13, 55, tzinfo=UTC)
T2 = datetime(2026, 11, 20, 13, 50, tzinfo=UTC)


def test_linux_run_command_output_is_parsed():
    output = (
        "Enable succeeded: \n[stdout]\n"
        'DRSIM-CANARY {"version":1,"last_sequence":1042,"last_marker_at":"2026-11-20T13:55:00Z","corrupted":false,'
        '"volumes":[{"name":"sqldata","disks":["2026-11-20T13:55:00Z","2026-11-20T13:50:00Z"],"consistent":false}]}\n'
        "\n[stderr]\n"
    )
    reading = parse_report(VM, output)
    assert reading == CanaryReading(
        vm_id=VM,
        reachable=True,
        last_marker_at=T1,
        last_sequence=1042,
        corrupted=False,
        volumes=(VolumeReading("sqldata", (T1, T2), False),),
    )
    assert not reading.consistent


def test_render_then_parse_gives_the_reading_back():
    reading = CanaryReading(VM, True, T1, 7, True, (VolumeReading("data", (T2,), True), VolumeReading("log", (None,), False)))
    assert parse_report(VM, "noise\n" + render_report(reading) + "\n") == reading


def test_powershell_single_disk_written_as_a_scalar_is_accepted():
    output = (
        'DRSIM-CANARY {"version":1,"last_sequence":3,"last_marker_at":"2026-11-20T13:50:00Z","corrupted":false,'
        '"volumes":[{"name":"log","disks":"2026-11-20T13:50:00Z","consistent":true}]}'
    )
    assert parse_report(VM, output).volumes == (VolumeReading("log", (T2,), True),)


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("Enable succeeded: \n[stdout]\n\n[stderr]\nbash: not found\n", "printed no DRSIM-CANARY line"),
        ("DRSIM-CANARY {not json", "not JSON"),
        ('DRSIM-CANARY {"version":2}', "version 1 report"),
        ('DRSIM-CANARY {"version":1,"last_sequence":"x"}', "last_sequence is not an integer"),
        ('DRSIM-CANARY {"version":1,"last_marker_at":"yesterday"}', "not an ISO 8601 time"),
        ('DRSIM-CANARY {"version":1,"volumes":[{"name":"v","disks":[]}]}', "no consistent flag"),
    ],
)
def test_bad_output_is_a_provider_error_naming_the_problem(output, message):
    with pytest.raises(ProviderError, match=message):
        parse_report(VM, output)


def run_script(script, root) -> str:
    env = {"CANARY_ROOT": str(root), "PATH": "/usr/bin:/bin"}
    return subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, check=True).stdout


def test_the_linux_script_reports_markers_per_volume(tmp_path):
    (tmp_path / "sqldata").mkdir()
    (tmp_path / "sqldata" / "data1.log").write_text("1 2026-11-20T13:40:00Z\n2 2026-11-20T13:55:00Z\n")
    (tmp_path / "sqldata" / "data2.log").write_text("1 2026-11-20T13:40:00Z\n2 2026-11-20T13:50:00Z\ntorn li")
    (tmp_path / "os").mkdir()
    (tmp_path / "os" / "os.log").write_text("5 2026-11-20T13:55:00Z\nCORRUPT 6 2026-11-20T13:56:00Z\n")
    script = tmp_path / "canary.sh"
    script.write_text(LINUX_SCRIPT)
    reading = parse_report(VM, run_script(script, tmp_path))
    assert reading.last_sequence == 6
    assert reading.last_marker_at == datetime(2026, 11, 20, 13, 56, tzinfo=UTC)
    assert reading.corrupted
    assert reading.volumes == (
        VolumeReading("os", (datetime(2026, 11, 20, 13, 56, tzinfo=UTC),), True),
        VolumeReading("sqldata", (T1, T2), False),
    )


def test_the_linux_script_on_a_vm_without_markers_reports_none(tmp_path):
    script = tmp_path / "canary.sh"
    script.write_text(LINUX_SCRIPT)
    reading = parse_report(VM, run_script(script, tmp_path / "absent"))
    assert (reading.last_marker_at, reading.last_sequence, reading.volumes, reading.corrupted) == (None, None, (), False)
