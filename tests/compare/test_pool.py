"""The local pool: what its workers import, when its fork server starts early, and trials begun in the background."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from drsim.compare import executors, pool
from drsim.compare.executors import outcomes_in_background, run_outcomes
from drsim.compare.inputs import prepare

COMPARISON = Path(__file__).parent / "data" / "store-plans.yaml"


def test_a_worker_imports_the_engine_and_no_frames_charts_or_templates() -> None:
    """What the fork server preloads for the workers: the engine and the simulated world, not pandas,
    matplotlib, jinja2 or rich (the parent's outputs), which would cost each comparison a second."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {list(pool.WORKER_MODULES)!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in ('pandas', 'matplotlib', 'jinja2', 'rich', 'drsim.engine') if m in sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == ["drsim.engine"]


@pytest.mark.parametrize(
    ("executor", "workers", "engine_trials", "display", "starts"),
    [
        ("local", 2, True, True, True),
        ("local", None, True, True, True),  # one worker per CPU (2 here, patched)
        ("local", 2, True, False, False),  # no progress display: the workers are forked from the command
        ("local", 1, True, True, False),  # trials in the drsim process itself
        ("local", 2, False, True, False),  # the fast model with --validate 0: no engine trial
        ("dask", 2, True, True, False),  # the cluster's workers, not a local pool
    ],
)
def test_the_fork_server_starts_early_only_for_a_local_pool_beside_a_progress_display(
    monkeypatch: pytest.MonkeyPatch, executor: str, workers: int | None, engine_trials: bool, display: bool, starts: bool
) -> None:
    from multiprocessing import forkserver

    started: list[bool] = []
    monkeypatch.setattr(forkserver, "ensure_running", lambda: started.append(True))
    monkeypatch.setattr(pool.os, "sched_getaffinity", lambda pid: {0, 1})
    pool.start_early(executor=executor, workers=workers, engine_trials=engine_trials, display=display)
    assert started == ([True] if starts else [])


@pytest.mark.skipif(sys.platform != "linux", reason="fork is used on Linux only")
def test_workers_are_forked_unless_another_thread_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forked workers share the command's imports; beside a thread (the progress display) a fork could
    copy a held lock, so the fork server starts them."""
    monkeypatch.setattr(pool.threading, "active_count", lambda: 1)
    assert pool.pool_context().get_start_method() == "fork"
    monkeypatch.setattr(pool.threading, "active_count", lambda: 2)
    assert pool.pool_context().get_start_method() == "forkserver"


@contextmanager
def display_thread(running: bool) -> Iterator[None]:
    """A thread beside the pool, as the progress display is: the workers then come from the fork server
    (alone, this process forks them unless an earlier test left a thread running)."""
    if not running:
        yield
        return
    stop = threading.Event()
    display = threading.Thread(target=stop.wait)
    display.start()
    try:
        yield
    finally:
        stop.set()
        display.join()


@pytest.mark.parametrize("display", [False, True], ids=["alone", "beside-a-thread"])
def test_trials_begun_in_the_background_are_the_trials_run_outcomes_gives(display: bool) -> None:
    """Two workers begun before the block's work, collected after it: the same outcomes as one
    worker in this process (sorted: chunks finish in any order)."""
    inputs = prepare(COMPARISON, trials=2)
    with display_thread(display), outcomes_in_background(inputs, workers=2) as collect:
        done: list[int] = []
        background = collect(lambda count: done.append(count))
    expected = run_outcomes(inputs, workers=1)

    def key(o: object) -> tuple[int, str]:
        return (o.trial, o.candidate)  # type: ignore[attr-defined]

    assert sorted(background, key=key) == sorted(expected, key=key)
    assert sum(done) == len(expected)


@pytest.mark.parametrize("display", [False, True], ids=["alone", "beside-a-thread"])
def test_leaving_the_block_without_collecting_stops_the_workers(monkeypatch: pytest.MonkeyPatch, display: bool) -> None:
    """An error or Ctrl-C in the work beside the trials (the fast model): the block's end stops the
    workers (SIGTERM), it does not wait for the trials they were given."""
    runs: list[executors.LocalPoolRun] = []
    original = executors.LocalPoolRun.__init__

    def kept(self: executors.LocalPoolRun, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        runs.append(self)

    monkeypatch.setattr(executors.LocalPoolRun, "__init__", kept)
    inputs = prepare(COMPARISON, trials=40)
    with display_thread(display), pytest.raises(RuntimeError, match="failed"), outcomes_in_background(inputs, workers=2):
        runs[0]._submitted()  # the workers are started
        processes = list(runs[0]._pool._processes.values())
        raise RuntimeError("the fast model failed")
    assert len(processes) == 2
    assert [p.exitcode for p in processes] == [-signal.SIGTERM, -signal.SIGTERM]
