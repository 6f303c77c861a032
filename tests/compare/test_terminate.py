"""SIGTERM (a service manager, `kill`, a CI timeout) ends `drsim compare` as Ctrl-C does: its worker
processes end with it (they were left running at full CPU with no parent), the command exits 3, and
the trials that finished are written, marked partial."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigterm_stops_the_workers_and_keeps_the_finished_trials(tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [str(Path(sys.executable).with_name("drsim")), "compare", str(ROOT / "drills" / "shop-plans.yaml"), "--model", "engine"]
    command += ["--trials", "3000", "--workers", "2", "--quiet", "--out", str(out), "--window-end", "2026-11-01T00:00:00Z"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while time.monotonic() < deadline and len(workers) < 2:
        time.sleep(0.2)
        workers = _children(process.pid)
    assert len(workers) >= 2, "the comparison did not start its workers"
    time.sleep(3)  # some chunks of trials finish
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 3, err
    assert "interrupted" in err and "Traceback" not in err
    for _ in range(50):
        if not any(_alive(w) for w in workers):
            break
        time.sleep(0.1)
    left = [w for w in workers if _alive(w)]
    for w in left:
        os.kill(w, signal.SIGKILL)
    assert not left, f"worker processes {left} outlived the command"
    if "marked partial" in err:
        assert (out / "PARTIAL.md").is_file() and (out / "comparison.csv").is_file()
