"""The canary protocol: marker lines, the log reader, the check's report (parsed from Run Command
output, rendered for the emulator) and the Linux check script reading real log files."""

from __future__ import annotations

import json
import random
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drsim.cloud.canary import (
    Marker,
    check_parameters,
    check_script,
    parse_marker,
    parse_report,
    read_log,
    render_report,
    volume_report,
)
from drsim.errors import ProviderError
from drsim.model.types import OsType

VM = "/subscriptions/s/resourceGroups/drill/providers/Microsoft.Compute/virtualMachines/sql-01-restored"
PROD = "8d7c0d02-5b1e-4a2f-9a53-3f1b5c7e2d10"
COPY = "0f1e2d3c-4b5a-4968-8776-655443322110"
INCIDENT = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return INCIDENT + timedelta(minutes=minutes)


def line(seq: int, when: datetime, vm: str = PROD, *, corrupt: bool = False) -> str:
    return Marker(seq, when, vm, corrupt).line()


# ----------------------------------------------------------------------------- marker lines


def test_a_marker_line_round_trips() -> None:
    marker = Marker(1042, datetime(2026, 11, 20, 13, 55, tzinfo=UTC), PROD)
    assert marker.line() == f"1042 2026-11-20T13:55:00Z {PROD}"
    assert parse_marker(marker.line()) == marker
    assert parse_marker("CORRUPT " + marker.line()) == Marker(1042, marker.at, PROD, corrupt=True)
    assert parse_marker(f"7 2026-11-20T13:55:00Z {PROD.upper()}") == Marker(7, marker.at, PROD)  # vmIds compare without case


@pytest.mark.parametrize(
    "text",
    [
        "",
        f"1042  2026-11-20T13:55:00Z {PROD}",  # two spaces
        f"1042 2026-11-20T13:55:00Z {PROD} ",  # trailing space
        f"1042 2026-11-20T13:55:00.5Z {PROD}",  # fractions: the writer writes whole seconds
        f"1042 2026-11-20T13:55:00+00:00 {PROD}",
        f"1042 2026-13-20T13:55:00Z {PROD}",  # month 13
        "1042 2026-11-20T13:55:00Z not-a-guid",
        f"1234567890123456 2026-11-20T13:55:00Z {PROD}",  # 16 digits: past what awk's doubles count exactly
        f"1042 2026-11-20T13:55:00Z {PROD}\r",
        f"\x001042 2026-11-20T13:55:00Z {PROD}",
    ],
)
def test_what_is_not_a_marker_line(text: str) -> None:
    assert parse_marker(text) is None


# ----------------------------------------------------------------------------- the log reader


def test_a_torn_last_line_is_dropped_and_said_so() -> None:
    data = f"{line(1, at(-2))}\n{line(2, at(-1))}\n3 2026-11-20T1".encode()
    reading = read_log(data, PROD)
    assert (reading.lines, reading.bad_line, reading.torn_tail) == (2, None, True)
    assert reading.production == parse_marker(line(2, at(-1)))


def test_a_damaged_line_inside_the_log_is_found() -> None:
    lines = [line(1, at(-3)), line(2, at(-2)), "\x00" * 20, line(4, at(-1))]
    reading = read_log(("\n".join(lines) + "\n").encode(), PROD)
    assert reading.bad_line == 3 and reading.lines == 4 and not reading.torn_tail


def test_a_sequence_that_goes_back_is_a_damaged_line() -> None:
    # A torn stripe: a block of the older disk brings back lines already overwritten by newer ones.
    lines = [line(5, at(-3)), line(6, at(-2)), line(4, at(-4)), line(7, at(-1))]
    assert read_log(("\n".join(lines) + "\n").encode(), PROD).bad_line == 3


def test_only_production_markers_by_the_incident_count() -> None:
    lines = [line(1, at(-2)), line(2, at(-1)), line(3, at(1)), line(4, at(5), COPY), line(5, at(6), COPY)]
    reading = read_log(("\n".join(lines) + "\n").encode(), PROD, INCIDENT)
    assert reading.production == Marker(2, at(-1), PROD)
    assert reading.newest == Marker(5, at(6), COPY)
    assert read_log(("\n".join(lines) + "\n").encode(), PROD).production == Marker(3, at(1), PROD)  # no cutoff


def test_corruption_counts_at_any_time() -> None:
    lines = [line(1, at(-1)), line(2, at(1), corrupt=True)]
    reading = read_log(("\n".join(lines) + "\n").encode(), PROD, INCIDENT)
    assert reading.corrupt == 1 and reading.production == Marker(1, at(-1), PROD)


# ----------------------------------------------------------------------------- the report


def linux_output(*volumes: dict[str, object]) -> str:
    return f"Enable succeeded: \n[stdout]\n{render_report(volumes)}\n\n[stderr]\n"


def test_the_recovered_vm_s_newer_markers_never_make_the_rpo_zero() -> None:
    # The false pass: the recovered VM runs the writer it was recovered with, under its own vmId, so
    # the newest marker on its data is newer than the incident. Only production's count.
    production = Marker(880, at(-5), PROD)
    own = Marker(990, at(40), COPY)
    reading = parse_report(VM, linux_output(volume_report("/data", production=production, newest=own, lines=990)), PROD, INCIDENT)
    assert reading.last_marker_at == at(-5) and reading.last_sequence == 880
    assert reading.consistent and not reading.corrupted
    assert (INCIDENT - reading.last_marker_at).total_seconds() == 300  # the measured RPO is production's 5 minutes


def test_a_production_marker_the_reader_does_not_trust_is_an_error() -> None:
    for wrong in (Marker(990, at(-1), COPY), Marker(990, at(1), PROD)):
        output = linux_output(volume_report("/data", production=wrong, newest=wrong, lines=990))
        with pytest.raises(ProviderError, match="as production's marker"):
            parse_report(VM, output, PROD, INCIDENT)


def test_a_volume_without_production_markers_fails() -> None:
    own = Marker(3, at(40), COPY)
    reading = parse_report(VM, linux_output(volume_report("/data", production=None, newest=own, lines=3)), PROD, INCIDENT)
    assert reading.last_marker_at is None and not reading.consistent
    assert reading.volumes[0].problem is not None and "no marker written by the production VM" in reading.volumes[0].problem


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"log": "missing", "production": None, "newest": None}, "/data/drsim-canary.log is missing"),
        ({"log": "unreadable", "detail": "Permission denied"}, "cannot be read: Permission denied"),
        ({"mount": "missing", "detail": "no block device holds filesystem UUID x"}, "is not on the recovered VM"),
        ({"mount": "failed", "detail": "wrong fs type"}, "does not mount read-only: wrong fs type"),
        ({"check": "errors", "detail": "e2fsck -n found errors on /dev/md0 (exit 4)"}, "read-only filesystem check of /data failed"),
        ({"check": "unchecked", "detail": "xfs on /data is mounted"}, "could not be checked read-only"),
        ({"bad_line": 17}, "damaged at line 17"),
    ],
)
def test_a_volume_that_cannot_be_verified_fails_the_check(change: dict[str, object], problem: str) -> None:
    volume = volume_report("/data", production=Marker(5, at(-1), PROD), newest=Marker(5, at(-1), PROD), lines=5) | change
    reading = parse_report(VM, linux_output(volume), PROD, INCIDENT)
    assert not reading.consistent
    assert problem in (reading.volumes[0].problem or "")


def test_a_vm_without_the_writer_fails() -> None:
    reading = parse_report(VM, 'DRSIM-CANARY {"version":2,"registry":false,"volumes":[]}', PROD, INCIDENT)
    assert not reading.consistent and "install it" in (reading.volumes[0].problem or "")


def test_powershell_s_single_volume_written_as_an_object_is_accepted() -> None:
    volume = volume_report("F:\\", production=Marker(5, at(-1), PROD), newest=Marker(5, at(-1), PROD), lines=5)
    output = 'DRSIM-CANARY {"version":2,"registry":true,"volumes":' + json.dumps(volume) + "}"
    assert parse_report(VM, output, PROD, INCIDENT).volumes[0].name == "F:\\"


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("Enable succeeded: \n[stdout]\n\n[stderr]\nbash: not found\n", "printed no DRSIM-CANARY line"),
        ("DRSIM-CANARY {not json", "not JSON"),
        ('DRSIM-CANARY {"version":1}', "version 2 report"),
        ('DRSIM-CANARY {"version":2,"registry":true,"volumes":"x"}', "volumes is not a list"),
        ('DRSIM-CANARY {"version":2,"registry":true,"volumes":[{"fs":"ext4"}]}', "has no path"),
        ('DRSIM-CANARY {"version":2,"registry":true,"volumes":[{"path":"/d","mount":"ok","check":"clean","log":"ok"}]}', "bad_line is"),
    ],
)
def test_bad_output_is_a_provider_error_naming_the_problem(output: str, message: str) -> None:
    with pytest.raises(ProviderError, match=message):
        parse_report(VM, output, PROD, INCIDENT)


def test_the_check_script_carries_its_parameters() -> None:
    for os in OsType:
        script = check_script(os, PROD.upper(), INCIDENT)
        assert check_parameters(script) == (PROD, INCIDENT)
    assert check_parameters(check_script(OsType.LINUX, PROD, None)) == (PROD, None)
    assert check_parameters(["cat canary"]) is None
    with pytest.raises(ProviderError, match="not a GUID"):
        check_script(OsType.LINUX, "'; rm -rf / #", INCIDENT)


# ----------------------------------------------------------------------------- the Linux check script


def run_check(tmp_path: Path, registry: str | None, not_after: datetime | None = INCIDENT) -> str:
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    if registry is not None:
        (state / "volumes").write_text(registry)
    script = tmp_path / "check.sh"
    script.write_text("\n".join(check_script(OsType.LINUX, PROD, not_after)) + "\n")
    env = {"DRSIM_CANARY_STATE": str(state), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR": str(tmp_path)}
    return subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, check=True, timeout=60).stdout


def report_volumes(output: str) -> list[dict[str, object]]:
    return list(json.loads(output.split("DRSIM-CANARY ", 1)[1])["volumes"])


def test_the_linux_check_without_the_writer_s_registry_fails_the_vm(tmp_path: Path) -> None:
    reading = parse_report(VM, run_check(tmp_path, None), PROD, INCIDENT)
    assert not reading.consistent and reading.last_marker_at is None


def test_the_linux_check_refuses_a_volume_it_cannot_mount_or_check(tmp_path: Path) -> None:
    # No filesystem UUID recorded (the writer could not tell): read in place, but not verified.
    volume = tmp_path / "data"
    volume.mkdir()
    (volume / "drsim-canary.log").write_text(line(1, at(-1)) + "\n")
    (tmp_path / "missing").mkdir()
    reading = parse_report(VM, run_check(tmp_path, f"{volume}\t\t\n{tmp_path / 'missing'}\t\t\n"), PROD, INCIDENT)
    problems = [v.problem for v in reading.volumes]
    assert "could not be checked read-only" in (problems[0] or "")
    assert f"{tmp_path / 'missing'}/drsim-canary.log is missing" in (problems[1] or "")
    assert reading.last_marker_at == at(-1)  # what was read is still what is reported


def random_log(rng: random.Random) -> bytes:
    """A log as crashes, torn stripes, rotation and a recovered VM's writer leave them."""
    lines: list[str] = []
    seq = rng.randrange(0, 10**6)
    when = at(-rng.randrange(1, 600))
    for _ in range(rng.randrange(0, 40)):
        seq += rng.choice((1, 1, 1, 2, -3))
        when += timedelta(seconds=rng.choice((0, 1, 1, 30)))
        vm = rng.choice((PROD, PROD, PROD.upper(), COPY))
        text = line(max(seq, 0), when, vm, corrupt=rng.random() < 0.05)
        damage = rng.random()
        if damage < 0.03:
            text = "\x00" * len(text)
        elif damage < 0.06:
            text = text[: rng.randrange(len(text))]
        elif damage < 0.08:
            text = text.replace(" ", "  ", 1)
        lines.append(text)
    data = "".join(f"{t}\n" for t in lines)
    if rng.random() < 0.3:
        data += line(seq + 1, when, PROD)[: rng.randrange(1, 40)]  # a torn last write
    return data.encode()


def test_the_linux_check_reads_logs_exactly_as_the_python_reader(tmp_path: Path) -> None:
    rng = random.Random(15)
    logs = [random_log(rng) for _ in range(40)]
    registry = ""
    for index, data in enumerate(logs):
        volume = tmp_path / f"v{index}"
        volume.mkdir()
        (volume / "drsim-canary.log").write_bytes(data)
        registry += f"{volume}\t\t\n"
    for not_after in (INCIDENT, None):
        volumes = report_volumes(run_check(tmp_path, registry, not_after))
        assert len(volumes) == len(logs)
        for data, volume in zip(logs, volumes, strict=True):
            expected = read_log(data, PROD, not_after)
            assert volume["lines"] == expected.lines, data
            assert (volume["bad_line"] or None) == expected.bad_line, data
            assert volume["torn_tail"] is expected.torn_tail, data
            for key, marker in (("production", expected.production), ("newest", expected.newest)):
                assert (parse_marker(str(volume[key])) if volume[key] is not None else None) == marker, (key, data)
            assert volume["corrupt"] == expected.corrupt, data
