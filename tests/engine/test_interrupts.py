"""Ctrl-C during `drsim drill run`: one line at once, a short summary, a second Ctrl-C stops cleanup,
and a Ctrl-C while reports are written says which command finishes the run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from engine_drillkit import REPO

HEADER: dict[str, Any] = {"apiVersion": "drsim/v1"}


def fleet_drill(directory: Path, vms: int) -> Path:
    """A restore of `vms` one-disk VMs from daily backup, as documents on disk."""
    estate = {
        **HEADER,
        "kind": "Estate",
        "metadata": {"name": "fleet"},
        "regions": {"primary": "eastus2", "recovery": "centralus"},
        "networks": [{"name": "prod", "region": "eastus2", "cidr": "10.0.0.0/16"}],
        "vms": [
            {
                "name": f"vm-{n:04d}",
                "os": "linux",
                "size": "Standard_D2s_v5",
                "region": "eastus2",
                "network": "prod",
                "tags": {"app": "fleet"},
                "disks": [{"name": "os", "size_gib": 64, "used_gib": 10}],
            }
            for n in range(vms)
        ],
        "apps": [{"name": "fleet", "vms": {"app": "fleet"}}],
    }
    plan = {
        **HEADER,
        "kind": "ProtectionPlan",
        "metadata": {"name": "daily"},
        "rules": [{"vms": {"app": "fleet"}, "backup": {"policy": "standard"}}],
    }
    runbook = {
        **HEADER,
        "kind": "Runbook",
        "metadata": {"name": "restore-fleet"},
        "scenario": {"incident": "vm-loss", "vms": {"app": "fleet"}},
        "steps": [
            {"id": "bubble", "action": "network.isolate", "with": {"region": "eastus2", "cidr": "10.250.0.0/16"}},
            {"id": "restore", "action": "backup.restore", "needs": ["bubble"], "with": {"vms": {"app": "fleet"}, "network": "bubble"}},
        ],
    }
    drill = {
        **HEADER,
        "kind": "Drill",
        "metadata": {"name": "fleet-drill"},
        "runbook": "runbook.yaml",
        "estate": "estate.yaml",
        "plan": "plan.yaml",
        "provider": "sim",
        "incident_at": "2026-11-20T14:00:00Z",
        "seed": 3,
        "concurrency": 500,
    }
    for name, document in (("estate", estate), ("plan", plan), ("runbook", runbook), ("drill", drill)):
        (directory / f"{name}.yaml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return directory / "drill.yaml"


def interrupted_run(drill: Path, out: Path, *, at: str) -> subprocess.CompletedProcess[str]:
    """`drsim drill run` in a child that sends itself SIGINT: `at` is `restores` (once 300 restores
    started, then again when cleanup starts) or `reports` (while the reports are written)."""
    script = f"""
import os, signal, sys
import drsim.console, drsim.drills
from drsim.measure.events import CleanupStarted, TaskStarted

class Interrupt:
    started = 0
    def on_event(self, event):
        if isinstance(event, TaskStarted):
            Interrupt.started += 1
            if Interrupt.started == 300:
                os.kill(os.getpid(), signal.SIGINT)
        elif isinstance(event, CleanupStarted) and Interrupt.started >= 300:
            os.kill(os.getpid(), signal.SIGINT)
    def on_finished(self, outcome):
        pass

if {at!r} == "restores":
    original = drsim.drills.run_drill
    drsim.console.run_drill = lambda *a, **k: original(*a, **{{**k, "observers": (*k["observers"], Interrupt())}})
else:
    def finish(*a, **k):
        raise KeyboardInterrupt
    drsim.console.finish_reports = finish
sys.argv = ["drsim", "drill", "run", {str(drill)!r}, "--out", {str(out)!r}]
from drsim.cli import main
main()
"""
    return subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=False, timeout=600)


def test_ctrl_c_says_one_line_at_once_and_a_second_stops_cleanup(tmp_path: Path) -> None:
    done = interrupted_run(fleet_drill(tmp_path, 1000), tmp_path / "out", at="restores")
    assert done.returncode == 3, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == "interrupted (SIGINT received): cleaning up (Ctrl-C again to stop cleanup)", done.stderr
    assert len([line for line in lines if line.startswith("interrupted")]) == 1
    assert any(line.startswith("cleanup stopped: ") for line in lines), done.stderr
    assert "Traceback" not in done.stderr
    # hundreds of aborted restores are summed up, not listed one by one
    assert len(done.stdout.splitlines()) < 40, done.stdout
    assert "more failed tasks" in done.stdout and "of step restore: " in done.stdout


def test_ctrl_c_while_reports_are_written_says_how_to_finish(tmp_path: Path) -> None:
    done = interrupted_run(fleet_drill(tmp_path, 3), tmp_path / "out", at="reports")
    assert done.returncode == 3, done.stderr
    (run_dir,) = (tmp_path / "out" / "fleet-drill").iterdir()
    assert f"`drsim report {run_dir}` writes its reports and seals it" in done.stderr
    assert (run_dir / "result.json").is_file()
    from click.testing import CliRunner

    from drsim.cli import main

    finished = CliRunner().invoke(main, ["report", str(run_dir)])
    assert finished.exit_code == 0, finished.output
    assert (run_dir / "manifest.json").is_file()
