"""The start method of the local process pool, and starting it before the comparison needs it.

The pool's workers are forked by a fork server (not forked from the parent, which has threads: the
progress display) that has already imported what a worker runs, so each worker starts in
milliseconds. Starting that server costs a Python start and those imports (about a second on this
kind of machine); `start_early` begins it in the background while the parent still imports, reads
the documents and runs the fast model. This module imports only the standard library, so that it
can be called first.
"""

from __future__ import annotations

import multiprocessing
import os
from multiprocessing.context import BaseContext

WORKER_MODULES = (
    "drsim.compare.trials",
    "drsim.compare.drillcost",
    "drsim.cloud.sim.catalog",
    "drsim.drills",
)
"""What a worker imports to run trials (trials.run_trial), imported once by the fork server."""


def pool_context() -> BaseContext:
    """The multiprocessing context of the local pool: the fork server where there is one, else spawn."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(WORKER_MODULES))
        return context
    return multiprocessing.get_context("spawn")


def start_early(*, executor: str, workers: int | None, engine_trials: bool) -> None:
    """Start the fork server now, in the background, when the comparison will run engine trials on a
    local pool of more than one worker (`engine_trials`: the engine runs the comparison or validates
    the fast model). Nothing to wait for: the first worker the pool asks for waits for it."""
    if executor != "local" or not engine_trials:
        return
    try:
        count = workers if workers is not None else len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux: no fork server either
        return
    if count < 2 or "forkserver" not in multiprocessing.get_all_start_methods():
        return
    from multiprocessing import forkserver

    pool_context()
    forkserver.ensure_running()
