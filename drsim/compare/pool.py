"""How the local process pool starts its workers, and starting that before the comparison needs it.

- fork, on Linux when this process has no other thread: each worker is a copy of this process and
  shares what it has imported at no cost (the engine and the simulated world, imported here first).
- else a fork server (the progress display is a thread, and fork beside threads can deadlock): it has
  already imported what a worker runs, so each worker starts in milliseconds; starting the server
  costs a Python start and those imports (about a second here), which `start_early` begins in the
  background while `drsim compare` still imports and reads its documents;
- spawn where there is neither.

This module imports only the standard library, so that it can be called first.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import sys
import threading
from multiprocessing.context import BaseContext

WORKER_MODULES = (
    "drsim.compare.trials",
    "drsim.compare.drillcost",
    "drsim.cloud.sim.catalog",
    "drsim.drills",
)
"""What a worker imports to run trials (trials.run_trial): imported before the workers start, by this
process (fork) or by the fork server."""


def fork_is_safe() -> bool:
    """Whether the workers may be forked from this process: Linux, and no other thread (a thread
    holding a lock at the fork would leave it held for ever in the copy)."""
    return sys.platform == "linux" and threading.active_count() == 1


def pool_context() -> BaseContext:
    """The multiprocessing context of the local pool (see the module's docstring)."""
    if fork_is_safe():
        for name in WORKER_MODULES:  # once here, then in every worker for free
            importlib.import_module(name)
        return multiprocessing.get_context("fork")
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(WORKER_MODULES))
        return context
    return multiprocessing.get_context("spawn")


def start_early(*, executor: str, workers: int | None, engine_trials: bool, display: bool) -> None:
    """Start the fork server now, in the background, when the comparison will need it: engine trials
    (the engine runs the comparison, or validates the fast model) on a local pool of more than one
    worker, beside a progress display (`display`: a thread; without one the workers are forked from
    this process). Nothing to wait for: the first worker the pool asks for waits for the server."""
    if executor != "local" or not engine_trials or not display or sys.platform != "linux":
        return
    count = workers if workers is not None else len(os.sched_getaffinity(0))
    if count < 2 or "forkserver" not in multiprocessing.get_all_start_methods():
        return
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(list(WORKER_MODULES))
    forkserver.ensure_running()
