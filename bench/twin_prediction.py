"""Benchmark: the twin's prediction of each example drill, as `drsim drill run` makes it before a drill
against Azure (default 200 trials; target: seconds). Prints the wall time per drill and per trial, and
each application's predicted RTO.

    python bench/twin_prediction.py [--trials N]
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from pathlib import Path

from drsim.compare.predict import DEFAULT_TRIALS, drill_documents, predict
from drsim.model.checks import load_drill
from drsim.times import duration

DRILLS = Path(__file__).resolve().parent.parent / "drills"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=DEFAULT_TRIALS)
    args = parser.parse_args()
    for path in sorted(DRILLS.glob("*.yaml")):
        if "kind: Drill" not in path.read_text():
            continue
        bundle = load_drill(path)
        incident = bundle.drill.doc.incident_at
        assert isinstance(incident, datetime)
        started = time.perf_counter()
        made = predict(drill_documents(bundle), incident_at=incident, trials=args.trials, seed=bundle.drill.doc.seed)
        took = time.perf_counter() - started
        apps = "; ".join(f"{a.name} RTO p5 {duration(a.p5_s)} p50 {duration(a.p50_s)} p95 {duration(a.p95_s)}" for a in made.apps)
        print(f"{path.stem}: {args.trials} trials in {took:.2f} s ({took / args.trials * 1000:.1f} ms a trial); {apps}")


if __name__ == "__main__":
    main()
