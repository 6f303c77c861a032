"""Runs started at once into one --out each get their own run directory (issue 13, item 9)."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

from engine_drillkit import DRILLS

from drsim.drills import _new_run_dir
from drsim.report.evidence import verify_bundle

RUN_ID = "20261120T140000Z-s42"


def _claim(out_dir: str, barrier: multiprocessing.synchronize.Barrier, results: multiprocessing.Queue[str]) -> None:
    barrier.wait()
    run_dir, _ = _new_run_dir(Path(out_dir), "shop", RUN_ID)
    results.put(run_dir.name)


def test_each_claim_makes_its_directory_at_once(tmp_path: Path) -> None:
    """The directory exists when _new_run_dir returns, so the next run can never be given the same one."""
    first, first_id = _new_run_dir(tmp_path, "shop", RUN_ID)
    second, second_id = _new_run_dir(tmp_path, "shop", RUN_ID)
    assert (first_id, second_id) == (RUN_ID, f"{RUN_ID}-2")
    assert first.is_dir() and second.is_dir() and not any(first.iterdir())


def test_a_dry_run_names_a_directory_without_making_it(tmp_path: Path) -> None:
    run_dir, run_id = _new_run_dir(tmp_path, "shop", RUN_ID, create=False)
    assert run_id == RUN_ID and not run_dir.exists() and not (tmp_path / "shop").exists()


def test_processes_claiming_at_the_same_instant_get_distinct_directories(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")  # the children run _claim of this very module
    count = 8
    barrier = context.Barrier(count)
    results: multiprocessing.Queue[str] = context.Queue()
    workers = [context.Process(target=_claim, args=(str(tmp_path), barrier, results)) for _ in range(count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    names = sorted(results.get(timeout=5) for _ in range(count))
    assert len(set(names)) == count
    assert sorted(p.name for p in (tmp_path / "shop").iterdir()) == names


def test_parallel_drill_runs_into_one_out_all_finish_sealed(tmp_path: Path) -> None:
    """Whole `drsim drill run` processes at once, one drill, one seed, one --out: every run is written and sealed."""
    count = 5
    environment = {**os.environ, "PYTHONWARNINGS": "ignore"}
    command = [
        sys.executable,
        "-c",
        "from drsim.cli import main; main()",
        "drill",
        "run",
        str(DRILLS / "2026-q4-shop-asr.yaml"),
        "--out",
        str(tmp_path),
        "-q",
    ]
    processes = [
        subprocess.Popen(command, cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(count)
    ]
    outputs = [process.communicate(timeout=300) for process in processes]
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr.decode()
    runs = sorted((tmp_path / "2026-q4-shop-asr").iterdir())
    assert len(runs) == count
    for run_dir in runs:
        assert verify_bundle(run_dir).intact, run_dir
