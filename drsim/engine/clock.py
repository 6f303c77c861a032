"""The virtual-time kernel: the simulated world's clock and the kernel that drives the engine on it.

A simulated run is a set of ordinary coroutines (the executor's, the actions', the world's) driven by
`coro.send` on drsim's own minimal kernel, not an asyncio loop: a FIFO queue of what is ready and a
heap of `(due time, sequence, what)`. `VirtualClock.sleep(s)` yields the number `s` to the kernel,
which wakes the task when virtual time reaches it; when nothing is ready, time jumps to the next
timer, so a 3-hour drill takes milliseconds. Timers due at the same instant fire in the order they
were scheduled (the sequence number breaks ties, as in SimPy's event heap), so a run repeats exactly.

The executor and the actions never name the kernel: they use the small interface of
drsim.engine.runtime (futures, tasks, call_soon, gather, timeout), which this kernel serves in
virtual time and asyncio serves in real time (against Azure). Nothing here reads the wall clock; the
Clock protocol and the real-time clocks are in drsim.clock.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import heapq
import threading
import types
from asyncio import CancelledError
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from drsim.clock import require_aware
from drsim.errors import VirtualDeadlockError

T = TypeVar("T")

_RESOLUTION = 1e-9
"""Timers due within this many seconds of the first due one fire with it (float rounding only)."""

_PENDING, _DONE, _FAILED, _CANCELLED = 0, 1, 2, 3


class VirtualFuture(Generic[T]):
    """A result that a task awaits until someone sets it (slot hand-overs, drains, task results)."""

    __slots__ = ("_exception", "_kernel", "_result", "_state", "_waiters")

    def __init__(self, kernel: VirtualKernel) -> None:
        self._kernel = kernel
        self._state = _PENDING
        self._result: Any = None
        self._exception: BaseException | None = None
        self._waiters: list[Any] = []  # tasks (resumed) and callbacks (called with the future)

    def done(self) -> bool:
        return self._state != _PENDING

    def cancelled(self) -> bool:
        return self._state == _CANCELLED

    def result(self) -> T:
        state = self._state
        if state == _DONE:
            return self._result  # type: ignore[no-any-return,unused-ignore]
        if state == _PENDING:
            raise RuntimeError("the result is not set yet")
        assert self._exception is not None
        raise self._exception

    def exception(self) -> BaseException | None:
        if self._state == _PENDING:
            raise RuntimeError("the result is not set yet")
        return self._exception

    def set_result(self, value: T) -> None:
        if self._state != _PENDING:
            raise RuntimeError("the result is already set")
        self._state, self._result = _DONE, value
        self._wake()

    def set_exception(self, exc: BaseException) -> None:
        if self._state != _PENDING:
            raise RuntimeError("the result is already set")
        self._state, self._exception = _FAILED, exc
        self._wake()

    def cancel(self, msg: str | None = None) -> bool:
        if self._state != _PENDING:
            return False
        self._state, self._exception = _CANCELLED, CancelledError(msg) if msg else CancelledError()
        self._wake()
        return True

    def add_done_callback(self, callback: Callable[[Any], object]) -> None:
        if self._state != _PENDING:
            self._kernel._ready.append(_Call(callback, self))
        else:
            self._waiters.append(_Call(callback, self))

    def _wake(self) -> None:
        # Everything waiting on it goes to the end of the ready queue, in the order it began to wait
        # (asyncio schedules a future's done-callbacks the same way).
        waiters = self._waiters
        if waiters:
            self._kernel._ready.extend(waiters)
            self._waiters = []

    def __await__(self) -> Generator[Any, None, T]:
        if self._state == _PENDING:
            yield self
        if self._state == _DONE:  # result(), inline: a slot hand-over is awaited once per operation
            return self._result  # type: ignore[no-any-return,unused-ignore]
        return self.result()


class _Call:
    """A callback queued on the kernel: fn(*args)."""

    __slots__ = ("args", "fn")

    def __init__(self, fn: Callable[..., object], *args: Any) -> None:
        self.fn = fn
        self.args = args


class _Timer:
    """A callback due at a virtual instant; cancel() before it is due and it never runs."""

    __slots__ = ("args", "cancelled", "fn", "when")

    def __init__(self, when: float, fn: Callable[..., object], args: tuple[Any, ...]) -> None:
        self.when = when
        self.fn = fn
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualTask(VirtualFuture[T]):
    """A coroutine driven by the kernel; awaiting it gives its result (or raises its exception)."""

    __slots__ = ("_cancel_requests", "_must_cancel", "_sleep", "_waiting_on", "coro", "name")

    def __init__(self, kernel: VirtualKernel, coro: Coroutine[Any, Any, T], name: str | None) -> None:
        VirtualFuture.__init__(self, kernel)
        self.coro = coro
        self.name = name
        self._sleep = -1  # the sequence number of the timer it sleeps on (-1: none)
        self._waiting_on: VirtualFuture[Any] | None = None
        self._must_cancel = False
        self._cancel_requests = 0

    def cancel(self, msg: str | None = None) -> bool:
        """Ask the task to stop: CancelledError is raised where it waits (at once if it sleeps or waits
        on a future; at its next turn if it is ready to run)."""
        if self._state != _PENDING:
            return False
        self._cancel_requests += 1
        waiting = self._waiting_on
        if waiting is not None and waiting._state == _PENDING:
            self._waiting_on = None
            if waiting.__class__ is VirtualFuture:
                waiting.cancel()  # as asyncio does: cancelling a task cancels the future it awaits
                return True
            waiting._waiters.remove(self)  # a task it awaits goes on; this one stops waiting for it
            self._must_cancel = True
            self._kernel._ready.append(self)
            return True
        self._must_cancel = True
        if self._sleep >= 0:
            self._sleep = -1  # its timer is now stale
            self._kernel._ready.append(self)
        return True

    def cancelling(self) -> int:
        return self._cancel_requests

    def uncancel(self) -> int:
        if self._cancel_requests > 0:
            self._cancel_requests -= 1
        return self._cancel_requests


class _Delay(tuple[float | None]):
    """`await _Delay((seconds,))` yields `seconds` to the kernel, which resumes the task when virtual
    time has moved on by that much (None: at its next turn). Awaiting a tuple's iterator costs no
    Python frame: a sleep runs twice per simulated ARM operation."""

    __slots__ = ()
    if TYPE_CHECKING:

        def __await__(self) -> Generator[Any, None, None]: ...

    else:
        __await__ = tuple.__iter__


_TURN = _Delay((None,))


_COROUTINE = types.CoroutineType


async def _awaiting(awaitable: Awaitable[T]) -> T:
    return await awaitable


class VirtualKernel:
    """Drives coroutines in virtual time: a FIFO ready queue and a heap of timers (see module docstring)."""

    def __init__(self) -> None:
        self.now = 0.0
        self._ready: collections.deque[Any] = collections.deque()
        self._timers: list[tuple[float, int, Any]] = []
        self._seq = 0
        self._tasks: set[VirtualTask[Any]] = set()
        self.current: VirtualTask[Any] | None = None
        self.running = False

    # ------------------------------------------------------------------ the runtime interface

    def time(self) -> float:
        return self.now

    def future(self) -> VirtualFuture[Any]:
        return VirtualFuture(self)

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str | None = None) -> VirtualTask[T]:
        if coro.__class__ is not _COROUTINE:  # any other awaitable (a sleep, a future) runs as a coroutine
            coro = _awaiting(coro)
        task = VirtualTask(self, coro, name)
        self._tasks.add(task)
        self._ready.append(task)
        return task

    def call_soon(self, fn: Callable[..., object], *args: Any) -> None:
        self._ready.append(_Call(fn, *args))

    # A signal handler runs in this thread between bytecodes: appending to a deque is atomic.
    call_soon_threadsafe = call_soon

    def call_later(self, delay: float, fn: Callable[..., object], *args: Any) -> _Timer:
        return self.call_at(self.now + max(0.0, delay), fn, *args)

    def call_at(self, when: float, fn: Callable[..., object], *args: Any) -> _Timer:
        timer = _Timer(when, fn, args)
        self._seq += 1
        heapq.heappush(self._timers, (when, self._seq, timer))
        return timer

    def sleep(self, seconds: float) -> Awaitable[None]:
        return _Delay((seconds,)) if seconds > 0 else _TURN

    def current_task(self) -> VirtualTask[Any] | None:
        return self.current

    async def gather(self, *awaitables: Awaitable[Any], return_exceptions: bool = False) -> list[Any]:
        """Run the awaitables concurrently; their results in order. A failure is raised once every
        one has ended (or returned in place with return_exceptions); cancelling the gather cancels them."""
        tasks = [a if isinstance(a, VirtualFuture) else self.spawn(a) for a in awaitables]  # type: ignore[arg-type]
        results: list[Any] = []
        failure: BaseException | None = None
        for task in tasks:
            try:
                results.append(await task)
            except CancelledError as exc:
                if not task.done():  # the gather itself was cancelled: so is everything it runs
                    for other in tasks:
                        other.cancel()
                    raise
                if not return_exceptions and failure is None:
                    failure = exc
                results.append(exc)
            except Exception as exc:
                if not return_exceptions and failure is None:
                    failure = exc
                results.append(exc)
        if failure is not None:
            raise failure
        return results

    def timeout(self, seconds: float) -> VirtualTimeout:
        return VirtualTimeout(self, seconds)

    # ---------------------------------------------------------------------------- the loop

    def run(self, main: Coroutine[Any, Any, T]) -> T:
        """Drive `main` and every task it starts until `main` ends; return its result."""
        if self.running:
            raise RuntimeError("the virtual kernel is already running")
        root = self.spawn(main, name="main")
        previous = _running.kernel
        _running.kernel = self
        self.running = True
        try:
            try:
                self._loop(root)
            except BaseException:
                self._shut_down()
                raise
            if root._state == _PENDING:
                self._shut_down()
                raise VirtualDeadlockError(
                    "virtual-time deadlock: every task is waiting and no timer is pending, so the run can never finish"
                )
            return root.result()
        finally:
            self.running = False
            _running.kernel = previous

    def _loop(self, root: VirtualTask[Any], *, advance: bool = True) -> None:
        ready = self._ready
        timers = self._timers
        popleft = ready.popleft
        append = ready.append
        heappop = heapq.heappop
        heappush = heapq.heappush
        tasks = self._tasks
        while True:
            while ready:
                entry = popleft()
                if entry.__class__ is _Call:
                    entry.fn(*entry.args)
                    continue
                task: VirtualTask[Any] = entry
                if task._state != _PENDING:
                    continue
                self.current = task
                try:
                    if task._must_cancel:
                        task._must_cancel = False
                        task._waiting_on = None
                        yielded = task.coro.throw(CancelledError())
                    else:
                        task._waiting_on = None
                        yielded = task.coro.send(None)
                except StopIteration as stop:
                    tasks.discard(task)
                    task._state, task._result = _DONE, stop.value
                    if task._waiters:
                        task._wake()
                    continue
                except CancelledError as exc:
                    tasks.discard(task)
                    task._state, task._exception = _CANCELLED, exc
                    if task._waiters:
                        task._wake()
                    continue
                except (KeyboardInterrupt, SystemExit) as exc:
                    tasks.discard(task)
                    task._state, task._exception = _FAILED, exc
                    raise
                except BaseException as exc:
                    tasks.discard(task)
                    task._state, task._exception = _FAILED, exc
                    if task._waiters:
                        task._wake()
                    continue
                finally:
                    self.current = None
                if yielded.__class__ is float or yielded.__class__ is int:
                    if task._must_cancel:  # cancelled during this very turn: no sleep
                        append(task)
                        continue
                    self._seq = seq = self._seq + 1
                    task._sleep = seq
                    heappush(timers, (self.now + yielded, seq, task))
                elif yielded is None:
                    append(task)
                elif yielded.__class__ is VirtualFuture or yielded.__class__ is VirtualTask or isinstance(yielded, VirtualFuture):
                    if yielded._state != _PENDING or task._must_cancel:
                        append(task)
                    else:
                        task._waiting_on = yielded
                        yielded._waiters.append(task)
                else:
                    task.coro.close()
                    tasks.discard(task)
                    task._state = _FAILED
                    task._exception = RuntimeError(
                        f"a task on the virtual kernel awaited {yielded!r}, which the kernel does not serve "
                        "(use drsim.engine.runtime, not asyncio, in code that runs in virtual time)"
                    )
                    task._wake()
            if root._state != _PENDING or not advance:
                return
            # Nothing is ready: time moves to the next live timer, and every timer due then fires.
            while timers:
                when, seq, what = timers[0]
                if what.__class__ is _Timer:
                    if not what.cancelled:
                        break
                elif what._sleep == seq:
                    break
                heappop(timers)
            else:
                return  # nothing will ever happen again: the caller reports the deadlock
            if when > self.now:
                self.now = when
            end = self.now + _RESOLUTION
            while timers and timers[0][0] <= end:
                _, seq, what = heappop(timers)
                if what.__class__ is _Timer:
                    if not what.cancelled:
                        append(_Call(what.fn, *what.args))
                elif what._sleep == seq:
                    what._sleep = -1
                    append(what)

    def _shut_down(self) -> None:
        """After an interrupt or a deadlock: cancel every task still alive and let them unwind (their
        `finally` blocks run), then close whatever still would not end."""
        for _ in range(3):
            alive = [t for t in self._tasks if t._state == _PENDING]
            if not alive:
                break
            for task in alive:
                task.cancel()
            with contextlib.suppress(Exception, KeyboardInterrupt):
                self._loop(alive[0], advance=False)  # what is ready runs; time does not move
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                task.coro.close()
        self._tasks.clear()
        self._ready.clear()
        self._timers.clear()


class VirtualTimeout:
    """`async with kernel.timeout(s)`: cancel the task after s seconds of virtual time, then raise
    TimeoutError (asyncio.timeout's behaviour); expired() says whether it fired."""

    def __init__(self, kernel: VirtualKernel, seconds: float) -> None:
        self._kernel = kernel
        self._seconds = seconds
        self._timer: _Timer | None = None
        self._task: VirtualTask[Any] | None = None
        self._expired = False
        self._requests = 0

    def expired(self) -> bool:
        return self._expired

    def _fire(self) -> None:
        assert self._task is not None
        self._expired = True
        self._task.cancel()

    async def __aenter__(self) -> VirtualTimeout:
        task = self._kernel.current
        if task is None:
            raise RuntimeError("timeout() is used inside a task of the virtual kernel")
        self._task = task
        self._requests = task._cancel_requests
        self._timer = self._kernel.call_later(self._seconds, self._fire)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        assert self._timer is not None and self._task is not None
        self._timer.cancel()
        # Our cancellation, unless the task was also cancelled from elsewhere (then that one wins).
        if self._expired and exc_type is CancelledError and self._task.uncancel() <= self._requests:
            raise TimeoutError from exc


class _Running(threading.local):
    kernel: VirtualKernel | None = None


_running = _Running()


def running_kernel() -> VirtualKernel | None:
    """The virtual kernel running in this thread, if any."""
    return _running.kernel


def run_virtual(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` on a fresh virtual-time kernel and return its result.

    Ctrl-C (KeyboardInterrupt) cancels every task, lets them unwind, and is raised again; a run in
    which every task waits for something that can never happen raises VirtualDeadlockError."""
    with collector_paused():
        return VirtualKernel().run(main)


_collector_lock = threading.Lock()
_collector_pauses = 0
_collector_was_enabled = True


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while simulated runs are built, run and measured (in
    any thread of the process; pauses nest).

    A large drill keeps hundreds of thousands of objects alive (its events, the world's state) and
    makes millions of short-lived ones: the collector walks the live ones again and again, a third of
    a 10,000-VM drill's time, and finds next to no cycles. Reference counting still frees everything
    else; the collector resumes when the last pause in the process ends, and what was made meanwhile
    and is still alive goes straight to the oldest generation (not walked by a young collection).
    """
    global _collector_pauses, _collector_was_enabled
    with _collector_lock:
        if _collector_pauses == 0:
            _collector_was_enabled = gc.isenabled()
            gc.disable()
        _collector_pauses += 1
    try:
        yield
    finally:
        with _collector_lock:
            _collector_pauses -= 1
            if _collector_pauses == 0 and _collector_was_enabled:
                # What the run made and still holds (its events, a comparison's results) goes straight
                # to the oldest generation (freeze then unfreeze: two list splices) instead of being
                # walked by the first young collection after the pause. Garbage cycles among it are
                # still found, by the next full collection.
                gc.freeze()
                gc.unfreeze()
                gc.enable()


class VirtualClock:
    """Virtual time: `origin` plus the running virtual kernel's time."""

    def __init__(self, origin: datetime) -> None:
        self.origin = require_aware(origin)
        self._last_moment = 0.0
        self._last_now = self.origin

    def now(self) -> datetime:
        kernel = _running.kernel
        if kernel is None:
            raise RuntimeError("VirtualClock is read inside run_virtual(...) only: no virtual kernel is running")
        moment = kernel.now
        if moment != self._last_moment:  # many reads fall on one instant: the datetime is made once
            self._last_moment, self._last_now = moment, self.origin + timedelta(0, moment)  # (days, seconds): no keywords to parse
        return self._last_now

    def sleep(self, seconds: float) -> Awaitable[None]:
        """Let `seconds` of virtual time pass (0 or less: let the other ready tasks run first)."""
        return _Delay((seconds,)) if seconds > 0 else _TURN
