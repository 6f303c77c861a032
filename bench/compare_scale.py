"""Benchmark of `drsim compare`: 4 candidates x 1,000 trials on the contoso estate, 1 and 2 workers.

Prints candidate-trials per second and the wall time of each run (target: the whole comparison in
<= 60 s on 2 cores), checks that both runs give identical frames, and with --profile shows where
the time of one candidate-trial goes (cProfile over a few trials in this process).

    /work/venv/bin/python bench/compare_scale.py [--trials 1000] [--workers 1 2] [--profile 20]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

from drsim.compare import ExecutorKind, prepare, run_comparison
from drsim.compare.runner import monthly_costs
from drsim.compare.trials import iter_trial_outcomes, trial_specs

ROOT = Path(__file__).resolve().parent.parent
COMPARISON = ROOT / "drills" / "shop-plans.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--comparison", default=str(COMPARISON))
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--profile", type=int, default=0, metavar="TRIALS", help="profile this many trials in-process first")
    args = parser.parse_args()

    inputs = prepare(args.comparison, trials=args.trials)
    runs = inputs.trials * len(inputs.candidates)
    print(f"{inputs.name}: {len(inputs.candidates)} candidates x {inputs.trials} trials = {runs} simulated drills")
    print(f"monthly protection cost: {', '.join(f'{k} ${v:,.2f}' for k, v in monthly_costs(inputs).items())}")

    if args.profile:
        profiler = cProfile.Profile()
        specs = trial_specs(inputs, range(args.profile))
        start = time.perf_counter()
        profiler.enable()
        count = sum(1 for _ in iter_trial_outcomes(inputs, specs))
        profiler.disable()
        elapsed = time.perf_counter() - start
        print(f"\nprofile: {count} candidate-trials in {elapsed:.2f} s ({elapsed / count * 1000:.1f} ms each)")
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
        print(text.getvalue())
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(15)
        print(text.getvalue())

    frames = {}
    for workers in args.workers:
        start = time.perf_counter()
        result = run_comparison(inputs, executor=ExecutorKind.LOCAL, workers=workers)
        elapsed = time.perf_counter() - start
        frames[workers] = result.trials
        print(f"workers={workers}: {elapsed:6.1f} s  {runs / elapsed:7.1f} candidate-trials/s  {inputs.trials / elapsed:7.1f} trials/s (all candidates)")
    first = next(iter(frames.values()))
    identical = all(frame.equals(first) for frame in frames.values())
    print(f"frames identical across worker counts: {identical}")
    print()
    print(result.ranking.to_string(index=False))
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
