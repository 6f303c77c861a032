"""Where trials run: in this process, in a local process pool (the default), or on a Dask cluster.

Each executor sends chunks of trials as tasks and yields outcomes as chunks finish; the order they
finish in does not matter because the frames are sorted afterwards. A worker validates the
comparison's documents once (`trials.worker_documents`), not once per trial.
"""

from __future__ import annotations

import ipaddress
import os
import re
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from enum import StrEnum
from typing import Any

from drsim.compare.inputs import ComparisonInputs
from drsim.compare.pool import pool_context
from drsim.compare.trials import TrialChunk, TrialOutcome, chunks, iter_trial_outcomes, run_trials, trial_specs, worker_documents
from drsim.errors import ExecutionError, UsageError

Progress = Callable[[int], None]
"""Called with the number of candidate-trials just finished."""

SCHEDULER_TIMEOUT_S = 30.0
"""How long to wait for the Dask scheduler to answer before giving up (exit 3)."""

SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss")
"""The dask.distributed transports that reach a scheduler over the network."""

_ADDRESS = re.compile(
    r"(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://)?(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<host>[^\s:/\[\]]+)):(?P<port>[0-9]{1,5})"
)
_INPROC = re.compile(r"inproc://[^\s/]+/[0-9]+/[0-9]+")
_HOSTNAME = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)(?:\.(?!-)[A-Za-z0-9_-]{1,63}(?<!-))*\.?")  # `_`: compose service names


class ExecutorKind(StrEnum):
    LOCAL = "local"
    DASK = "dask"


def default_workers() -> int:
    """One worker per CPU this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def run_in_process(inputs: ComparisonInputs, progress: Progress | None = None) -> Iterator[TrialOutcome]:
    """Every trial in this process, one after the other (what `--workers 1` does)."""
    for outcome in iter_trial_outcomes(inputs, trial_specs(inputs, range(inputs.trials))):
        yield outcome
        if progress is not None:
            progress(1)


_pool_inputs: list[ComparisonInputs] = []  # in a pool worker: the comparison its initializer received


def _init_pool(inputs: ComparisonInputs) -> None:
    """Process-pool initializer: receive the comparison once and validate its documents. A forked worker
    inherits `drsim compare`'s SIGTERM handler (runner.terminate_as_interrupt): a worker ends on SIGTERM."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _pool_inputs[:] = [inputs]
    worker_documents(inputs)


def _run_pool_chunk(chunk: TrialChunk) -> list[TrialOutcome]:
    return run_trials(_pool_inputs[0], chunk)


class LocalPoolRun:
    """Chunks of trials in a pool of `workers` processes, submitted when it is made (the workers start
    and run them while this process does other work); `outcomes` yields them as chunks finish, and
    `close` ends the pool (stopping its workers when the outcomes were not all read).

    `background`: with a fork server, submit from a thread: starting a worker waits for the server,
    which may still be importing the engine (drsim.compare.pool.start_early), and this process goes
    on meanwhile. Forked workers start at once, from this thread (a fork beside threads is unsafe)."""

    def __init__(self, inputs: ComparisonInputs, workers: int, *, background: bool = False) -> None:
        # The inputs travel once per process (the initializer); how workers start: drsim.compare.pool.
        context = pool_context()
        background = background and context.get_start_method() != "fork"
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_pool, initargs=(inputs,))
        self._pending: set[Future[list[TrialOutcome]]] = set()
        self._failed: BaseException | None = None
        self._finished = self._closed = False
        self._submitting: threading.Thread | None = None
        if background:
            self._submitting = threading.Thread(target=self._submit, args=(inputs, workers), name="drsim-pool-start", daemon=True)
            self._submitting.start()
            return
        try:
            self._submit(inputs, workers)
        finally:
            if self._failed is not None:
                self.close()
        if self._failed is not None:
            raise self._failed

    def _submit(self, inputs: ComparisonInputs, workers: int) -> None:
        try:
            self._pending = {self._pool.submit(_run_pool_chunk, chunk) for chunk in chunks(inputs.trials, workers)}
        except BaseException as exc:  # raised where the outcomes are read
            self._failed = exc

    def _submitted(self) -> None:
        if self._submitting is not None:
            self._submitting.join()
            self._submitting = None
        if self._failed is not None:
            failed, self._failed = self._failed, None
            raise failed

    def outcomes(self, progress: Progress | None = None) -> Iterator[TrialOutcome]:
        try:
            self._submitted()
            while self._pending:
                done, self._pending = wait(self._pending, return_when=FIRST_COMPLETED)
                for future in done:
                    outcomes = future.result()
                    yield from outcomes
                    if progress is not None:
                        progress(len(outcomes))
            self._finished = True
        except BrokenProcessPool as exc:
            raise ExecutionError(f"a worker process of the comparison died: {exc}") from None
        finally:
            self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._submitting is not None:
            self._submitting.join()  # then every worker it started is known, and stopped below
        if not self._finished:
            # An error, Ctrl-C or outcomes nobody reads: do not wait for the chunks still queued.
            _stop_workers(self._pool)
        self._pool.shutdown(wait=True, cancel_futures=True)


def run_local_pool(inputs: ComparisonInputs, workers: int, progress: Progress | None = None) -> Iterator[TrialOutcome]:
    """Chunks of trials in a pool of `workers` processes; the inputs travel once per process."""
    yield from LocalPoolRun(inputs, workers).outcomes(progress)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Ctrl-C: end the worker processes now, not after the chunks already queued to them (each may take
    minutes on a large estate); the trials they had finished are kept. ProcessPoolExecutor gains a public
    terminate_workers() in Python 3.14; before it, its `_processes` map holds the worker processes."""
    terminate = getattr(pool, "terminate_workers", None)
    if terminate is not None:
        terminate()
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()


def _run_dask_chunk(inputs: ComparisonInputs, chunk: TrialChunk) -> list[TrialOutcome]:
    return run_trials(inputs, chunk)


def scheduler_address(text: str) -> str:
    """A Dask scheduler address as `scheme://host:port` (tcp when no scheme is given); UsageError
    (exit 2) for anything else, before a connection is tried: distributed would retry a malformed
    address until its timeout and then fail with a traceback."""
    if _INPROC.fullmatch(text.strip()):  # a LocalCluster(processes=False) in this process
        return text.strip()
    found = _ADDRESS.fullmatch(text.strip())
    example = "write it as tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786"
    if found is None:
        raise UsageError(f"--scheduler {text!r} is not a Dask scheduler address: {example}")
    scheme = (found["scheme"] or "tcp").lower()
    if scheme not in SCHEDULER_SCHEMES:
        raise UsageError(f"--scheduler {text!r}: unknown scheme {scheme}://; expected one of {', '.join(SCHEDULER_SCHEMES)}")
    port = int(found["port"])
    if not 1 <= port <= 65535:
        raise UsageError(f"--scheduler {text!r}: port {port} is not from 1 to 65535")
    if found["ipv6"] is not None:
        try:
            ipaddress.IPv6Address(found["ipv6"])
        except ValueError:
            raise UsageError(f"--scheduler {text!r}: [{found['ipv6']}] is not an IPv6 address") from None
        return f"{scheme}://[{found['ipv6']}]:{port}"
    host = found["host"]
    if not _HOSTNAME.fullmatch(host) or len(host) > 253:
        raise UsageError(f"--scheduler {text!r}: {host!r} is not a host name or IP address: {example}")
    return f"{scheme}://{host}:{port}"


def run_dask(
    inputs: ComparisonInputs,
    scheduler: str,
    workers: int | None,
    progress: Progress | None = None,
    *,
    timeout_s: float = SCHEDULER_TIMEOUT_S,
) -> Iterator[TrialOutcome]:
    """Chunks of trials on a dask.distributed cluster; the inputs are scattered to every worker once.
    A scheduler that does not answer within `timeout_s` is an ExecutionError (exit 3)."""
    address = scheduler_address(scheduler)
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise UsageError("--executor dask needs dask.distributed: pip install 'drsim[dask]'") from None
    try:
        client = Client(address, timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ExecutionError(f"cannot reach the Dask scheduler at {address} within {timeout_s:g} s: {exc}") from None
    try:
        cluster_workers = workers or max(1, sum(client.nthreads().values()))
        scattered: Any = client.scatter(inputs, broadcast=True)
        futures = [client.submit(_run_dask_chunk, scattered, chunk, pure=False) for chunk in chunks(inputs.trials, cluster_workers)]
        for future in as_completed(futures, loop=client.loop):
            outcomes: list[TrialOutcome] = future.result()
            yield from outcomes
            if progress is not None:
                progress(len(outcomes))
    finally:
        client.close()


def run_outcomes(
    inputs: ComparisonInputs,
    *,
    executor: ExecutorKind = ExecutorKind.LOCAL,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> list[TrialOutcome]:
    """Every candidate through every trial, on the chosen executor."""
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    if executor is ExecutorKind.DASK:
        if not scheduler:
            raise UsageError("--executor dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)")
        scheduler_address(scheduler)  # a malformed address is refused before anything starts
        return _collected(run_dask(inputs, scheduler, workers, progress))
    count = _pool_workers(inputs, workers, scheduler)
    if count is None:
        return _collected(run_in_process(inputs, progress))
    return _collected(run_local_pool(inputs, count, progress))


def _pool_workers(inputs: ComparisonInputs, workers: int | None, scheduler: str | None) -> int | None:
    """The local pool's size for these trials; None: they run in this process."""
    if scheduler:
        raise UsageError("--scheduler applies only to --executor dask")
    count = workers if workers is not None else default_workers()
    if count == 1 or inputs.trials == 1:
        return None
    return min(count, inputs.trials)


Collect = Callable[[Progress | None], list[TrialOutcome]]
"""Collects the outcomes of trials begun in the background (what `run_outcomes` returns)."""


@contextmanager
def outcomes_in_background(
    inputs: ComparisonInputs,
    *,
    executor: ExecutorKind = ExecutorKind.LOCAL,
    workers: int | None = None,
    scheduler: str | None = None,
) -> Iterator[Collect]:
    """`run_outcomes`, begun on entry where its trials run beside this process (a local pool of more
    than one worker): they run while the block does other work, and the function the block receives
    collects them (the same outcomes run_outcomes gives). Elsewhere (one worker, Dask) that function
    runs them. Leaving the block without collecting stops the workers."""
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    count = None if executor is ExecutorKind.DASK else _pool_workers(inputs, workers, scheduler)
    if count is None:
        yield lambda progress: run_outcomes(inputs, executor=executor, workers=workers, scheduler=scheduler, progress=progress)
        return
    run = LocalPoolRun(inputs, count, background=True)
    try:
        yield lambda progress: _collected(run.outcomes(progress))
    finally:
        run.close()


class TrialsInterrupted(KeyboardInterrupt):
    """Ctrl-C while trials ran: the outcomes that had arrived (a comparison keeps them, marked partial)."""

    def __init__(self, outcomes: list[TrialOutcome]) -> None:
        super().__init__()
        self.outcomes = outcomes


def _collected(outcomes: Iterator[TrialOutcome]) -> list[TrialOutcome]:
    collected: list[TrialOutcome] = []
    try:
        for outcome in outcomes:
            collected.append(outcome)
    except KeyboardInterrupt:
        raise TrialsInterrupted(collected) from None
    return collected
