"""Benchmark of `drsim compare`: 4 candidates x 1,000 trials on the contoso estate, 1 and 2 workers.

Prints the CPU time of one simulated drill per candidate (measured in this process: what the
comparison costs whatever else runs on the machine), then the wall time and throughput of the whole
comparison for each worker count (target: <= 60 s on 2 cores), with the load average, since wall
times on a shared machine depend on what else runs. Checks that every worker count gives identical
frames; with --profile shows where the time of a drill goes (cProfile over a few trials).

    /work/venv/bin/python bench/compare_scale.py [--trials 1000] [--workers 1 2] [--sample 20] [--profile 10]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

from drsim.compare import ExecutorKind, prepare, run_comparison
from drsim.compare.runner import monthly_costs
from drsim.compare.trials import iter_trial_outcomes, run_trial, trial_specs, worker_documents

ROOT = Path(__file__).resolve().parent.parent
COMPARISON = ROOT / "drills" / "shop-plans.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--comparison", default=str(COMPARISON))
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--sample", type=int, default=20, metavar="TRIALS", help="trials per candidate for the CPU time per drill")
    parser.add_argument("--profile", type=int, default=0, metavar="TRIALS", help="profile this many trials in-process first")
    args = parser.parse_args()

    inputs = prepare(args.comparison, trials=args.trials)
    runs = inputs.trials * len(inputs.candidates)
    print(f"{inputs.name}: {len(inputs.candidates)} candidates x {inputs.trials} trials = {runs} simulated drills")
    print(f"monthly protection cost: {', '.join(f'{k} ${v:,.2f}' for k, v in monthly_costs(inputs).items())}")

    documents = worker_documents(inputs)
    specs = trial_specs(inputs, range(args.sample))
    total_cpu = 0.0
    print(f"CPU time per simulated drill ({args.sample} trials each, in this process):")
    for candidate in documents.candidates:
        start = time.process_time()
        for spec in specs:
            run_trial(documents.estate, candidate, spec)
        per_drill = (time.process_time() - start) / len(specs)
        total_cpu += per_drill * inputs.trials
        print(f"  {candidate.name:16s} {per_drill * 1000:6.1f} ms")
    print(f"  whole comparison: {total_cpu:.0f} CPU-seconds, {total_cpu / 2:.0f} s on 2 free cores")

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
        load = os.getloadavg()[0]
        start = time.perf_counter()
        result = run_comparison(inputs, executor=ExecutorKind.LOCAL, workers=workers)
        elapsed = time.perf_counter() - start
        frames[workers] = result.trials
        print(
            f"workers={workers}: {elapsed:6.1f} s  {runs / elapsed:6.1f} candidate-trials/s  {inputs.trials / elapsed:5.1f} trials/s"
            f" (all candidates; load average before: {load:.1f} on {os.cpu_count()} CPUs)"
        )
    first = next(iter(frames.values()))
    identical = all(frame.equals(first) for frame in frames.values())
    print(f"frames identical across worker counts: {identical}")
    print()
    print(result.ranking.to_string(index=False))
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
