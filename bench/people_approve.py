"""People in the loop: how long `drsim drill approve` takes from its start to the run's human.acted.

Runs the example snapshot drill's world in real time (`drsim drill run --real-time --speed N`, its
manual step declared by nobody at a terminal) as a child process, and `--rounds` times: waits until
the journal says `declare` waits, then runs `drsim drill approve` as another child and measures its
wall time, and the part of it that is not Python starting up and importing drsim (the run polls for
approvals every drsim.engine.people.POLL_S real seconds; the approver reads the journal every 0.1 s).

    python bench/people_approve.py [--rounds 5] [--speed 100]

Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DRSIM = [sys.executable, "-c", "from drsim.cli import main; main()"]


def drill_file(directory: Path) -> Path:
    """The snapshot example with its declare step only (the rest of its runbook as written)."""
    example = REPO / "drills" / "2026-q4-shop-snapshot.yaml"
    data = yaml.safe_load(example.read_text())
    for key in ("runbook", "estate", "plan"):
        data[key] = str((example.parent / data[key]).resolve())
    data["participants"] = [{"name": "Bench Person", "role": "incident commander"}]
    path = directory / "drill.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def waiting(out: Path, within: float = 120.0) -> Path:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for journal in out.rglob("journal.jsonl"):
            if any(json.loads(line).get("event") == "human.waiting" for line in journal.read_bytes().split(b"\n")[:-1]):
                return journal.parent
        time.sleep(0.02)
    raise SystemExit(f"no run under {out} waited within {within}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--speed", type=float, default=100.0)
    args = parser.parse_args()
    start = time.perf_counter()  # the same command refused at once (no such run): Python, drsim's imports, the refusal
    subprocess.run([*DRSIM, "drill", "approve", "/nonexistent-run", "declare", "--by", "x"], check=False, capture_output=True)
    startup = time.perf_counter() - start
    approve, runs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        drill = drill_file(Path(tmp))
        for number in range(args.rounds):
            out = Path(tmp) / f"out-{number}"
            began = time.perf_counter()
            run = subprocess.Popen(
                [
                    *DRSIM,
                    "drill",
                    "run",
                    str(drill),
                    "--out",
                    str(out),
                    "--quiet",
                    "--no-report",
                    "--real-time",
                    "--speed",
                    str(args.speed),
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            run_dir = waiting(out)
            start = time.perf_counter()
            subprocess.run([*DRSIM, "drill", "approve", str(run_dir), "declare", "--by", "Bench Person"], check=True, capture_output=True)
            approve.append(time.perf_counter() - start)
            run.wait(timeout=600)
            runs.append(time.perf_counter() - began)
    print(f"drsim drill approve refused at once (startup and imports): {startup:.2f} s")
    median = statistics.median(approve)
    print(f"drsim drill approve, start to journaled: median {median:.2f} s, max {max(approve):.2f} s ({args.rounds} rounds)")
    print(f"  of which after startup: median {median - startup:.2f} s")
    print(f"whole real-time run at speed {args.speed:g}: median {statistics.median(runs):.1f} s")


if __name__ == "__main__":
    main()
