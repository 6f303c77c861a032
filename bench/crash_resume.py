"""Reliability: crash (kill -9) or interrupt (SIGINT) every example drill at random points, resume it
(sometimes killing the resume too), and check the resumed run against an uninterrupted one.

For every simulated example drill under drills/: one uninterrupted run, then `--points` interrupted
runs. Each interrupted run is a child process that SIGKILLs (or, for one in four, SIGINTs) itself at
a random journal event; half of those are then resumed in a child killed again at a later event (a
kill during a resume); the last resume is `drsim drill run --resume RUN_DIR` through the command line
with no drill path (the drill is read from the journal). Counted:
- identical: the resumed result.json is byte-identical to the uninterrupted one;
- duplicates: a resource created twice in the resumed journal (excluding the interrupted ending kept
  in journal.interrupted-N.jsonl);
- leftovers: resources the resumed run left behind that the uninterrupted run did not;
- failures: a resume that exited with another code than the uninterrupted run, or a traceback.

    python bench/crash_resume.py [--points 12] [--seed 1] [--drill NAME]

Targets (issue 13): 100 % identical, 0 duplicates, 0 leftovers, 0 failures. Prints the figures;
asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from drsim.drills import run_drill
from drsim.engine.journal import read_journal
from drsim.errors import DrsimError
from drsim.measure.events import ResourceCreated
from drsim.model import load_drill
from drsim.model.documents import Drill
from drsim.model.loader import load

REPO = Path(__file__).resolve().parents[1]

CHILD = """
import os, signal, sys
from drsim.drills import run_drill
from drsim.model import load_drill

class Stop:
    seen = 0
    def on_event(self, event):
        Stop.seen += 1
        if Stop.seen == {at}:
            os.kill(os.getpid(), signal.{signal})
    def on_finished(self, outcome):
        pass

run_drill(load_drill({drill!r}), out_dir={out!r}, resume={resume!r}, observers=(Stop(),), handle_signals=True)
"""


def child(drill: Path, out: Path, at: int, signal: str, resume: Path | None) -> subprocess.CompletedProcess[str]:
    script = CHILD.format(at=at, signal=signal, drill=str(drill), out=str(out), resume=str(resume) if resume else None)
    return subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=False, timeout=600)


def created_twice(run_dir: Path) -> int:
    ids = [e.id for e in read_journal(run_dir / "journal.jsonl").events if isinstance(e, ResourceCreated)]
    return len(ids) - len(set(ids))


def _is_simulated_drill(path: Path) -> bool:
    try:
        return load(path, Drill).doc.provider.value == "sim"
    except DrsimError:  # a comparison, not a drill
        return False


def leftovers(result_json: Path) -> int:
    return len(json.loads(result_json.read_text())["cleanup"]["leftovers"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=12, help="interrupted runs per drill")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--drill", help="only this example drill (file name without .yaml)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    drills = [p for p in sorted((REPO / "drills").glob("*.yaml")) if _is_simulated_drill(p)]
    if args.drill:
        drills = [p for p in drills if p.stem == args.drill]
    totals = {"runs": 0, "identical": 0, "duplicates": 0, "leftovers": 0, "failures": 0, "kills during a resume": 0}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for drill in drills:
            whole = run_drill(load_drill(drill), out_dir=Path(tmp) / "whole", fsync=False)
            assert whole.result_path is not None and whole.journal_path is not None
            expected = whole.result_path.read_bytes()
            events = len(read_journal(whole.journal_path).lines)
            base_leftovers = leftovers(whole.result_path)
            figures = {"runs": 0, "identical": 0, "duplicates": 0, "leftovers": 0, "failures": 0}
            for point in range(args.points):
                out = Path(tmp) / drill.stem / str(point)
                first = rng.randrange(2, events)
                signal = "SIGINT" if rng.random() < 0.25 else "SIGKILL"
                done = child(drill, out, first, signal, None)
                run_dirs = list((out / whole.drill).iterdir()) if (out / whole.drill).is_dir() else []
                figures["runs"] += 1
                if len(run_dirs) != 1 or "Traceback" in done.stderr:
                    figures["failures"] += 1
                    print(f"  {drill.stem} point {point}: the interrupted run failed: {done.stderr[-300:]}")
                    continue
                run_dir = run_dirs[0]
                if rng.random() < 0.5 and first + 1 < events:  # kill the resume too, at a later event
                    again = child(drill, out, rng.randrange(first + 1, events + 1), "SIGKILL", run_dir)
                    totals["kills during a resume"] += 1
                    if "Traceback" in again.stderr:
                        figures["failures"] += 1
                        print(f"  {drill.stem} point {point}: the killed resume failed: {again.stderr[-300:]}")
                        continue
                final = subprocess.run(
                    [str(Path(sys.executable).parent / "drsim"), "drill", "run", "--resume", str(run_dir), "--quiet", "--no-report"],
                    cwd=REPO,
                    capture_output=True,
                    text=True,
                    check=False,
                    timeout=600,
                )
                if final.returncode != whole.exit_code or "Traceback" in final.stderr:
                    figures["failures"] += 1
                    print(f"  {drill.stem} point {point} ({signal} at {first}): resume exited {final.returncode}: {final.stderr[-300:]}")
                    continue
                figures["identical"] += (run_dir / "result.json").read_bytes() == expected
                figures["duplicates"] += created_twice(run_dir)
                figures["leftovers"] += max(0, leftovers(run_dir / "result.json") - base_leftovers)
            print(
                f"{drill.stem}: {figures['identical']}/{figures['runs']} identical, {figures['duplicates']} duplicates, "
                f"{figures['leftovers']} leftovers, {figures['failures']} failures ({events} journal lines)"
            )
            for key, value in figures.items():
                totals[key] += value
    share = 100.0 * totals["identical"] / totals["runs"] if totals["runs"] else 0.0
    print(
        f"all: {totals['identical']}/{totals['runs']} resumes byte-identical ({share:.1f} %), {totals['duplicates']} duplicates, "
        f"{totals['leftovers']} leftovers, {totals['failures']} failures; {totals['kills during a resume']} kills during a resume; "
        f"{time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
