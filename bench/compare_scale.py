"""Benchmark of `drsim compare`: the fast model against the engine, on contoso and on generated estates.

For the shop comparison (drills/shop-plans.yaml, the contoso estate) and generated estates of 200 and
1,000 VMs (3 disks each, tiers in consistency groups of at most 16: drsim.compare.generated), prints:

- the wall and CPU time of 4 candidates x 1,000 trials with the fast model (targets on 2 cores: the
  1,000-VM comparison under 60 s, the contoso one under 5 s);
- the engine's CPU time per trial of each candidate, sampled on a few trials (`--sample`), and the
  ratio of the engine's CPU time for the whole comparison to the fast model's;
- the fast model's agreement with the engine on those sampled trials (same incident times): per
  candidate and measure the medians and the Kolmogorov-Smirnov statistic and p-value (few engine
  trials at scale: a rough check; the test suite holds the model to 300 trials);
- for contoso, the whole `drsim compare` command as a person runs it (a new process: start-up and
  imports, the fast model, 50 validation trials per candidate on 2 workers, every output), as wall
  time over `--runs` runs and their median (target: under 5 s on 2 cores).

With --workers the engine comparisons of the shop also run as before (1,000 trials, each worker
count), and whether every worker count gives identical frames. The machine is shared: CPU times are
the steadier figures; the load average is printed with each wall time.

    .venv/bin/python bench/compare_scale.py [--trials 1000] [--sizes 200 1000] [--sample 50 4 2] [--runs 5] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from drsim.compare import ExecutorKind, prepare, run_comparison
from drsim.compare.analysis import trials_frame
from drsim.compare.fast_run import ModelChoice, fast_outcomes
from drsim.compare.fast_validate import agreements
from drsim.compare.generated import default_sizes, write_comparison
from drsim.compare.runner import monthly_costs
from drsim.compare.trials import run_trial, trial_specs, worker_documents

ROOT = Path(__file__).resolve().parent.parent
COMPARISON = ROOT / "drills" / "shop-plans.yaml"


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def bench(name: str, path: Path, trials: int, sample: int) -> None:
    inputs = prepare(path, trials=trials)
    names = [c.name for c in inputs.candidates]
    vms = len(worker_documents(inputs).estate.doc.vms)
    print(f"\n== {name}: {vms} VMs, {len(names)} candidates x {inputs.trials} trials")
    before = load()
    wall, cpu = time.perf_counter(), time.process_time()
    fast = fast_outcomes(inputs)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"fast model: {wall:6.2f} s wall, {cpu:6.2f} s CPU ({before})")

    documents = worker_documents(inputs)
    specs = trial_specs(inputs, range(sample))
    engine = []
    engine_cpu = 0.0
    print(f"engine, CPU time per trial ({sample} trials per candidate, in this process):")
    for candidate in documents.candidates:
        start = time.process_time()
        for spec in specs:
            engine.append(run_trial(documents.estate, candidate, spec))
        per_trial = (time.process_time() - start) / len(specs)
        engine_cpu += per_trial * inputs.trials
        print(f"  {candidate.name:14s} {per_trial * 1000:9.1f} ms")
    print(
        f"engine, whole comparison: {engine_cpu:,.0f} CPU-seconds ({engine_cpu / 2:,.0f} s on 2 free cores); "
        f"ratio to the fast model: {engine_cpu / cpu:,.0f}x its CPU time, {engine_cpu / wall:,.0f}x its wall time"
    )
    found = agreements(trials_frame(fast, names), trials_frame(engine, names), names)
    print(f"agreement, fast against engine on the {sample} trials the engine ran (same incidents), per candidate and measure:")
    for a in found:
        print(("    " if a.agrees else " !! ") + a.describe())
    print(f"  {sum(a.agrees for a in found)} of {len(found)} agree (KS p >= 0.01, and medians within 3 % or the floor)")


def drsim_command() -> list[str]:
    """The `drsim` console script of this interpreter's environment (as a person runs it)."""
    script = Path(sys.executable).with_name("drsim")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from drsim.cli import main; main()"]


def whole_command(trials: int, runs: int) -> None:
    """The whole `drsim compare` path as a person runs it, a new process each time: start-up and imports,
    the fast model, the 50 validation trials per candidate on 2 workers, and every output file."""
    arguments = ["compare", "drills/shop-plans.yaml", "--trials", str(trials), "--workers", "2"]
    print(f"\ncontoso, the whole `drsim {' '.join(arguments)} --out DIR` (defaults: --model auto, --validate 50):")
    walls = []
    with tempfile.TemporaryDirectory() as out:
        for run in range(runs):
            before = load()
            start = time.perf_counter()
            done = subprocess.run(
                [*drsim_command(), *arguments, "--out", str(Path(out) / str(run))],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            walls.append(time.perf_counter() - start)
            if done.returncode not in (0, 1):  # 1: no candidate qualifies, still a whole comparison
                print(done.stderr)
                raise SystemExit(f"drsim compare exited {done.returncode}")
            print(f"  run {run + 1}: {walls[-1]:5.2f} s wall ({before})")
    print(f"  median of {runs}: {statistics.median(walls):.2f} s wall (target: under 5 s on 2 cores)")
    model: list[str] = []  # the command's "model:" line, which the terminal's width wraps onto indented lines
    for line in done.stdout.splitlines():
        if line.startswith("model:") or (model and line.startswith("  ")):
            model.append(line.strip())
        elif model:
            break
    print("  " + " ".join(model))


def engine_workers(trials: int, workers: list[int]) -> bool:
    inputs = prepare(COMPARISON, trials=trials)
    runs = inputs.trials * len(inputs.candidates)
    print(
        f"\nengine comparisons of the shop, {runs} simulated drills; monthly cost: "
        + ", ".join(f"{k} ${v:,.2f}" for k, v in monthly_costs(inputs).items())
    )
    frames = {}
    for count in workers:
        before = load()
        start = time.perf_counter()
        result = run_comparison(inputs, executor=ExecutorKind.LOCAL, workers=count, model=ModelChoice.ENGINE)
        elapsed = time.perf_counter() - start
        frames[count] = result.trials
        print(f"workers={count}: {elapsed:6.1f} s  {runs / elapsed:6.1f} candidate-trials/s ({before})")
    first = next(iter(frames.values()))
    identical = all(frame.equals(first) for frame in frames.values())
    print(f"frames identical across worker counts: {identical}")
    return identical


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--sizes", type=int, nargs="*", default=[200, 1000], help="generated estates (VMs)")
    parser.add_argument(
        "--sample", type=int, nargs="+", default=[50, 4, 2], metavar="TRIALS", help="engine trials per candidate: contoso, then each size"
    )
    parser.add_argument("--runs", type=int, default=5, help="runs of the whole contoso command (a new process each)")
    parser.add_argument(
        "--workers", type=int, nargs="*", default=[], help="also run the shop's engine comparisons with these worker counts"
    )
    args = parser.parse_args()
    for size in args.sizes:
        try:
            default_sizes(size)
        except ValueError as exc:
            parser.error(f"--sizes {size}: {exc}")
    samples = args.sample + [args.sample[-1]] * (1 + len(args.sizes) - len(args.sample))
    bench("contoso (drills/shop-plans.yaml)", COMPARISON, args.trials, samples[0])
    whole_command(args.trials, args.runs)
    with tempfile.TemporaryDirectory() as directory:
        for size, sample in zip(args.sizes, samples[1:], strict=False):
            path = write_comparison(Path(directory) / str(size), size, trials=args.trials)
            bench(f"generated-{size}", path, args.trials, sample)
    if args.workers:
        return 0 if engine_workers(args.trials, args.workers) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
