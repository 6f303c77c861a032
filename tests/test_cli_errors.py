"""Bad places and bad numbers on the command line: one line naming the path, the right exit code, no
traceback, and nothing run (or lost) before a problem that could be seen up front."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from drsim.cli import main
from drsim.cloud.emulator.world import MAX_SPEED, MIN_SPEED, EmulatorOptions
from drsim.drills import incident_time, run_id_for
from drsim.errors import UsageError
from drsim.model import Drill, load

ROOT = Path(__file__).resolve().parents[1]
DRILL = ROOT / "drills" / "2026-q4-shop-asr.yaml"
needs_proc = pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


# ------------------------------------------------------------------------------ drill run checks its outputs first


@needs_proc
def test_an_unwritable_junit_path_is_refused_before_the_drill_runs(tmp_path: Path) -> None:
    result = invoke("drill", "run", str(DRILL), "--out", str(tmp_path / "reports"), "--junit", "/proc/junit.xml", "--quiet")
    assert result.exit_code == 2
    assert result.stderr.startswith("drsim: /proc/junit.xml: cannot create files in /proc: ")
    assert not (tmp_path / "reports").exists(), "the drill ran although its JUnit XML could not be written"


@needs_proc
def test_an_unwritable_out_directory_is_refused_naming_it() -> None:
    result = invoke("drill", "run", str(DRILL), "--out", "/proc/reports", "--quiet")
    assert result.exit_code == 2
    assert result.stderr.startswith("drsim: /proc/reports: cannot create files in /proc: ") and "(--out)" in result.stderr


def test_a_store_that_is_not_a_store_is_refused_before_the_drill_runs(tmp_path: Path) -> None:
    store = tmp_path / "history.sqlite"
    store.write_text("this is a text file, not SQLite\n" * 100)
    result = invoke("drill", "run", str(DRILL), "--out", str(tmp_path / "reports"), "--store", str(store), "--quiet")
    assert result.exit_code == 2
    assert f"drsim: {store}: not a drsim history store" in result.stderr
    assert not (tmp_path / "reports").exists()


def test_a_missing_signing_key_names_the_drill_file_and_field_before_the_run(tmp_path: Path) -> None:
    text = DRILL.read_text().replace("evidence:\n", "evidence:\n  sign_key: nokey.pem\n")
    for name in ("../runbooks/", "estates/", "plans/"):
        text = text.replace(f": {name}", f": {(DRILL.parent / name).resolve()}/")
    drill = tmp_path / "drill.yaml"
    drill.write_text(text)
    line = text.splitlines().index("  sign_key: nokey.pem") + 1
    result = invoke("drill", "run", str(drill), "--out", str(tmp_path / "reports"), "--quiet")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{drill}:{line}:13: evidence.sign_key: {tmp_path / 'nokey.pem'}: cannot read the signing key")
    assert not (tmp_path / "reports").exists()


def test_a_dry_run_writes_nothing_so_its_outputs_are_not_checked(tmp_path: Path) -> None:
    store = tmp_path / "history.sqlite"
    store.write_text("not SQLite\n" * 100)
    result = invoke("drill", "run", str(DRILL), "--dry-run", "--out", str(tmp_path / "reports"), "--store", str(store))
    assert result.exit_code == 0, result.output


def test_incident_at_random_draws_the_time_from_the_seed_over_the_drills_window(tmp_path: Path) -> None:
    """`--incident-at random` is `incident_at: random` in the drill: the same draw, so the same run id."""
    result = invoke("drill", "run", str(DRILL), "--out", str(tmp_path), "--incident-at", "random", "--seed", "7", "--quiet")
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "2026-q4-shop-asr").iterdir()
    drill = load(DRILL, Drill).doc.model_copy(update={"incident_at": "random"})
    result_json = json.loads((run_dir / "result.json").read_text())
    assert result_json["seed"] == 7
    today = datetime.now(UTC).date()
    assert run_dir.name in {run_id_for(incident_time(drill, 7, today=day), 7) for day in (today, today.fromordinal(today.toordinal() - 1))}


def test_incident_at_still_refuses_what_is_neither_a_time_nor_random() -> None:
    result = invoke("drill", "run", str(DRILL), "--incident-at", "someday", "--dry-run")
    assert result.exit_code == 2 and "'someday' is not a time" in result.stderr


# ------------------------------------------------------------------------------ the last resort for OSError


def test_an_os_error_becomes_one_line_naming_the_path_with_exit_3(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(kind: str | None) -> dict[str, object]:
        raise PermissionError(13, "Permission denied", "/srv/drsim/schema.json")

    monkeypatch.setattr("drsim.model.schema.json_schema", refuse)
    result = invoke("schema")
    assert result.exit_code == 3
    assert result.stderr == "drsim: /srv/drsim/schema.json: Permission denied\n"


def _drsim(*args: str, stdout: int) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from drsim.cli import main; main()", *args]
    return subprocess.run(command, stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120, check=False)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_standard_output_is_one_line_and_exit_3() -> None:
    with open("/dev/full", "w") as full:
        done = _drsim("schema", stdout=full.fileno())
    assert done.returncode == 3
    assert done.stderr == "drsim: standard output: No space left on device\n"


def test_a_reader_that_went_away_ends_drsim_quietly() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `drsim schema | head -0`: the reader is gone before drsim writes
    try:
        done = _drsim("schema", stdout=write_end)
    finally:
        os.close(write_end)
    assert done.returncode == 3
    assert done.stderr == ""


# ------------------------------------------------------------------------------ numbers within reason


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["emulator", "serve", "--drill", str(DRILL), "--speed", "1e308"], "Invalid value for '--speed'"),
        (["emulator", "serve", "--drill", str(DRILL), "--speed", "0"], "Invalid value for '--speed'"),
        (["emulator", "serve", "--drill", str(DRILL), "--speed", "nan"], "--speed must be a number from 0.01 to 10000, got nan"),
        (["emulator", "serve", "--drill", str(DRILL), "--port", "70000"], "Invalid value for '--port'"),
        (["compare", str(DRILL), "--trials", "1000000000000"], "Invalid value for '--trials'"),
        (["compare", str(DRILL), "--workers", "100000"], "Invalid value for '--workers'"),
        (["compare", str(DRILL), "--seed", "-1"], "Invalid value for '--seed'"),
        (["drill", "run", str(DRILL), "--seed", str(2**64)], "Invalid value for '--seed'"),
    ],
)
def test_numeric_options_outside_their_range_are_usage_errors(args: list[str], message: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_the_speed_range_of_the_cli_is_the_emulators() -> None:
    serve = main.commands["emulator"].commands["serve"]  # type: ignore[attr-defined]
    speed = next(p for p in serve.params if p.name == "speed")
    assert isinstance(speed.type, click.FloatRange)
    assert (speed.type.min, speed.type.max) == (MIN_SPEED, MAX_SPEED)
    with pytest.raises(UsageError, match=r"--speed must be a number from 0\.01 to 10000, got 1e\+308"):
        EmulatorOptions(drill=DRILL, speed=1e308)
