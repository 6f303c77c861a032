"""`drsim drill run`: exit codes, files, dry run, resume, quiet."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from engine_drillkit import DRILLS, DrillFactory

from drsim.cli import main
from drsim.cloud.sim.network import NetworkService


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each command runs in a temporary directory (the default reports/ and history store land there)."""
    monkeypatch.chdir(tmp_path)


def drill_run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["drill", "run", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_a_passing_drill_exits_0_and_writes_result_and_journal(tmp_path: Path) -> None:
    code, output = drill_run(str(DRILLS / "2026-q4-shop-asr.yaml"), "--out", str(tmp_path))
    assert code == 0
    run_dir = tmp_path / "2026-q4-shop-asr" / "20261120T140000Z-s42"
    result = json.loads((run_dir / "result.json").read_text())
    keys = ["drill", "runbook", "provider", "seed", "incident_at", "status", "apps", "tasks", "cleanup"]
    assert list(result) == [*keys, "simulated", "emulated", "inputs"]  # FORMAT.md, with its 2026-12 additions
    assert result["status"] == "passed"
    assert (result["simulated"], result["emulated"]) == (True, False)
    # the documents as run, copied byte for byte and fingerprinted
    sources = {
        "drill": DRILLS / "2026-q4-shop-asr.yaml",
        "runbook": DRILLS.parent / "runbooks" / "shop-asr-region-failover.yaml",
        "estate": DRILLS / "estates" / "contoso.yaml",
        "plan": DRILLS / "plans" / "asr-and-daily-backup.yaml",
    }
    assert set(result["inputs"]) == set(sources)
    for role, source in sources.items():
        entry = result["inputs"][role]
        assert entry["path"] == f"inputs/{role}.yaml"
        assert (run_dir / entry["path"]).read_bytes() == source.read_bytes()
        assert entry["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    journal = (run_dir / "journal.jsonl").read_text().splitlines()
    assert journal[0].startswith('{"event":"run.started"') and '"performed":{"started":' in journal[0]
    assert journal[-1].startswith('{"event":"run.performed"')
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert {f"inputs/{role}.yaml" for role in sources} <= {f["path"] for f in manifest["files"]}
    assert set(manifest["performed"]) == {"started", "ended", "drsim_version", "host", "user"}
    assert "shop" in output and "status passed" in output


def test_a_failing_drill_exits_1_and_a_second_run_gets_its_own_directory(tmp_path: Path) -> None:
    for _ in range(2):
        code, _ = drill_run(str(DRILLS / "2026-q4-shop-backup.yaml"), "--out", str(tmp_path), "--quiet")
        assert code == 1
    runs = sorted(p.name for p in (tmp_path / "2026-q4-shop-backup").iterdir())
    assert runs == ["20261120T140000Z-s42", "20261120T140000Z-s42-2"]
    first, second = ((tmp_path / "2026-q4-shop-backup" / r / "result.json").read_bytes() for r in runs)
    assert first == second


def test_an_execution_error_exits_3(make_drill: DrillFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Validation refuses outbound access on a drill network; the simulated world grants it anyway here,
    # so that the engine's isolation guard refuses to start the recovered VM (a SafetyError, exit 3).
    create = NetworkService.create_isolated_network

    async def with_outbound(self: NetworkService, **kwargs: Any) -> Any:
        return await create(self, **{**kwargs, "allow_outbound": True})

    monkeypatch.setattr(NetworkService, "create_isolated_network", with_outbound)
    bundle = make_drill(
        {
            "scenario": {"incident": "accidental-delete", "vms": {"name": "sql-01"}},
            "steps": [
                {
                    "id": "bubble",
                    "action": "network.isolate",
                    "allow_failure": True,
                    "with": {"region": "eastus2", "cidr": "10.250.0.0/16"},
                },
                {"id": "db", "action": "backup.restore", "needs": ["bubble"], "with": {"vms": {"name": "sql-01"}, "network": "bubble"}},
            ],
        }
    )
    code, output = drill_run(str(bundle.drill.path), "--out", str(tmp_path))
    assert code == 3 and "status error" in output


def test_invalid_input_exits_2_without_a_traceback(tmp_path: Path) -> None:
    code, output = drill_run(str(DRILLS / "2026-q4-shop-asr.yaml"), "--incident-at", "yesterday")
    assert code == 2 and "--incident-at 'yesterday' is not a time" in output
    code, output = drill_run(str(DRILLS / "2026-q4-shop-asr.yaml"), "--incident-at", "2026-11-20T14:00:00")
    assert code == 2 and "no time zone" in output
    code, output = drill_run(str(tmp_path / "missing.yaml"))
    assert code == 2
    bad = tmp_path / "drill.yaml"
    bad.write_text(
        "apiVersion: drsim/v1\nkind: Drill\nmetadata: {name: x}\nrunbook: nope.yaml\nestate: e.yaml\nplan: p.yaml\nincident_at: now\n"
    )
    code, output = drill_run(str(bad))
    assert code == 2 and f"{bad}:" in output and "Traceback" not in output
    code, output = drill_run(str(DRILLS / "2026-q4-shop-asr.yaml"), "--resume", str(tmp_path / "nowhere"))
    assert code == 2 and "no such run directory" in output


def test_dry_run_prints_the_plan_and_creates_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = drill_run(str(DRILLS / "2026-q4-shop-snapshot.yaml"), "--out", str(out), "--dry-run")
    assert code == 0
    assert "planned critical path (an estimate): declare -> db/sql-01" in output
    assert "would create:" in output and "snapshots" in output
    assert list(tmp_path.iterdir()) == []


def test_seed_and_incident_time_options_name_the_run(tmp_path: Path) -> None:
    code, _ = drill_run(
        str(DRILLS / "2026-q4-web-image.yaml"), "--out", str(tmp_path), "--seed", "7", "--incident-at", "2026-11-21T03:30:00Z", "-q"
    )
    assert code == 0
    (run_dir,) = (tmp_path / "2026-q4-web-image").iterdir()
    assert run_dir.name == "20261121T033000Z-s7"
    result = json.loads((run_dir / "result.json").read_text())
    assert (result["seed"], result["incident_at"]) == (7, "2026-11-21T03:30:00Z")


def test_resume_from_the_command_line(tmp_path: Path) -> None:
    code, _ = drill_run(str(DRILLS / "2026-q4-shop-asr.yaml"), "--out", str(tmp_path / "a"), "-q")
    (whole,) = (tmp_path / "a" / "2026-q4-shop-asr").iterdir()
    crashed = tmp_path / "b"
    crashed.mkdir()
    lines = (whole / "journal.jsonl").read_bytes().splitlines(keepends=True)
    (crashed / "journal.jsonl").write_bytes(b"".join(lines[:40]))
    code, output = drill_run(str(DRILLS / "2026-q4-shop-asr.yaml"), "--resume", str(crashed), "-q")
    assert code == 0 and output.startswith("passed")
    assert (crashed / "result.json").read_bytes() == (whole / "result.json").read_bytes()
    code, output = drill_run(str(DRILLS / "2026-q4-shop-asr.yaml"), "--resume", str(crashed), "--seed", "3")
    assert code == 2 and "leave out --seed" in output
