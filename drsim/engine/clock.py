"""The virtual-time kernel: the simulated world's clock and the loop that drives the engine on it.

The simulated world runs on `VirtualEventLoop`, an asyncio loop whose `time()` is virtual: when every
task waits, it jumps to the next timer instead of blocking, so a 3-hour drill takes milliseconds.
Timers due at the same instant fire in the order they were scheduled (a sequence number breaks ties,
as in SimPy's event heap), so a run repeats exactly. Nothing here reads the wall clock; the Clock
protocol and the real-time clocks are in drsim.clock.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import gc
import heapq
import itertools
import selectors
import threading
from collections.abc import Callable, Coroutine, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

from drsim.clock import require_aware
from drsim.errors import VirtualDeadlockError

T = TypeVar("T")

# asyncio's _run_once caps one select() at this many seconds (base_events.MAXIMUM_SELECT_TIMEOUT).
_MAX_SELECT_TIMEOUT = 24 * 3600
# ... and purges cancelled timers once there are more than this many (base_events._MIN_SCHEDULED_TIMER_HANDLES).
_MIN_SCHEDULED_TIMER_HANDLES = 100


# A heap entry: (due time, scheduling order, what fires then): an asyncio timer, or the future of a
# VirtualClock.sleep, which the loop resolves itself (no timer handle or callback per sleep).
_Timer = tuple[float, int, "asyncio.TimerHandle | asyncio.Future[None]"]
_Future = asyncio.Future


class _Handle(asyncio.Handle):
    """asyncio's Handle, made without the debug-mode lookups (the loop makes one per callback)."""

    __slots__ = ()

    def __init__(self, callback: Callable[..., object], args: tuple[Any, ...], loop: asyncio.AbstractEventLoop, context: Any) -> None:
        self._context = contextvars.copy_context() if context is None else context
        self._loop = loop
        self._callback = callback
        self._args = args
        self._cancelled = False
        self._repr = None
        self._source_traceback = None


class _TimerHandle(asyncio.TimerHandle):
    """asyncio's TimerHandle, made as _Handle is."""

    __slots__ = ()

    def __init__(
        self, when: float, callback: Callable[..., object], args: tuple[Any, ...], loop: asyncio.AbstractEventLoop, context: Any
    ) -> None:
        _Handle.__init__(self, callback, args, loop, context)  # type: ignore[arg-type]  # the same slots
        self._when = when
        self._scheduled = False


class _VirtualSelector(selectors.BaseSelector):
    """A selector that never waits: select(timeout) moves the loop's virtual time to the next timer.

    It keeps the registrations asyncio makes (its self-pipe) but never reports them ready; a drill on
    the virtual loop does no I/O.
    """

    def __init__(self) -> None:
        self._keys: dict[int, selectors.SelectorKey] = {}
        self._loop: VirtualEventLoop | None = None

    def attach(self, loop: VirtualEventLoop) -> None:
        self._loop = loop

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        if fd in self._keys:
            raise KeyError(f"{fileobj!r} is already registered")
        key = selectors.SelectorKey(fileobj, fd, events, data)
        self._keys[fd] = key
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        return self._keys.pop(fd)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        assert self._loop is not None
        if timeout is None:
            raise VirtualDeadlockError("virtual-time deadlock: every task is waiting and no timer is pending, so the run can never finish")
        if timeout > 0:
            self._loop._advance_to_next_timer(timeout)
        return []

    def close(self) -> None:
        self._keys.clear()

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return {key.fileobj: key for key in self._keys.values()}


class VirtualEventLoop(asyncio.SelectorEventLoop):
    """An asyncio loop on virtual time: starts at 0.0 and jumps to the next timer when all tasks wait."""

    # asyncio's own loop state (set by BaseEventLoop.__init__), which call_at and _run_once work on.
    _scheduled: list[_Timer]
    _ready: collections.deque[asyncio.Handle | asyncio.Future[None]]
    _closed: bool
    _timer_cancelled_count: int
    _stopping: bool
    _debug: bool

    def __init__(self) -> None:
        selector = _VirtualSelector()
        self._virtual_now = 0.0
        self._timer_seq = itertools.count()
        super().__init__(selector)
        selector.attach(self)
        # Timers are due exactly when virtual time reaches them; the margin only absorbs float rounding.
        self._clock_resolution = 1e-9

    def time(self) -> float:
        return self._virtual_now

    def call_soon(  # type: ignore[override]
        self, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.Handle:
        if self._debug or self._closed:  # asyncio's checks and source tracebacks
            return super().call_soon(callback, *args, context=context)
        handle = _Handle(callback, args, self, context)
        self._ready.append(handle)
        return handle

    def call_at(  # type: ignore[override]
        self, when: float, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.TimerHandle:
        if when is None:
            raise TypeError("when cannot be None")
        self._check_closed()  # type: ignore[attr-defined]
        if self._debug:
            self._check_callback(callback, "call_at")  # type: ignore[attr-defined]
        timer = _TimerHandle(when, callback, args, self, context)
        # The heap holds (due time, scheduling order, timer): equal-time timers fire first-in first-out,
        # and the heap compares tuples in C rather than timers in Python.
        heapq.heappush(self._scheduled, (when, next(self._timer_seq), timer))
        timer._scheduled = True
        return timer

    def wake_at(self, when: float, sleeper: asyncio.Future[None]) -> None:
        """Resolve `sleeper` when virtual time reaches `when`, in the same order as a timer scheduled
        now would fire (VirtualClock.sleep: a cancelled sleeper is skipped)."""
        self._check_closed()  # type: ignore[attr-defined]
        heapq.heappush(self._scheduled, (when, next(self._timer_seq), sleeper))

    def _advance_to_next_timer(self, timeout: float) -> None:
        scheduled: list[_Timer] = self._scheduled
        due = scheduled[0][0] if scheduled else self._virtual_now + timeout
        if due - self._virtual_now > _MAX_SELECT_TIMEOUT:
            self._virtual_now += timeout
        else:
            self._virtual_now = max(self._virtual_now, due)

    def _run_once(self) -> None:
        """asyncio's loop iterations (BaseEventLoop._run_once) on the timer heap above, without the I/O
        poll a virtual loop never needs: run what is ready, else move time to the next timer and run
        every timer due then, and everything that makes ready at that instant, in asyncio's order."""
        scheduled: list[_Timer] = self._scheduled
        ready = self._ready
        if len(scheduled) > _MIN_SCHEDULED_TIMER_HANDLES and self._timer_cancelled_count / len(scheduled) > 0.5:
            # Many cancelled timers: drop them all at once, as asyncio does.
            kept = []
            for entry in scheduled:
                if _dead(entry[2]):
                    if entry[2].__class__ is not _Future:
                        entry[2]._scheduled = False  # type: ignore[union-attr]
                else:
                    kept.append(entry)
            heapq.heapify(kept)
            self._scheduled = scheduled = kept
            self._timer_cancelled_count = 0
        else:
            while scheduled and _dead(first := scheduled[0][2]):
                heapq.heappop(scheduled)
                if first.__class__ is not _Future:
                    self._timer_cancelled_count -= 1
                    first._scheduled = False  # type: ignore[union-attr]
        if not ready and not self._stopping:
            if not scheduled:
                self._selector.select(None)  # type: ignore[attr-defined]  # raises VirtualDeadlockError
            timeout = scheduled[0][0] - self._virtual_now
            if timeout > 0:
                self._advance_to_next_timer(min(timeout, _MAX_SELECT_TIMEOUT))
        # Due now or within the resolution. `<=`: months into a run, adding 1e-9 to the time no longer
        # changes the float, and a timer due exactly now must still fire (else the loop spins).
        end_time = self._virtual_now + self._clock_resolution
        while True:
            while scheduled and scheduled[0][0] <= end_time:
                due = heapq.heappop(scheduled)[2]
                if due.__class__ is not _Future:
                    due._scheduled = False  # type: ignore[union-attr]
                ready.append(due)
            for _ in range(len(ready)):
                handle = ready.popleft()
                if handle.__class__ is _Future:  # a sleeper's turn: wake it (unless it was cancelled)
                    if not handle.done():
                        handle.set_result(None)
                elif not handle._cancelled:  # type: ignore[union-attr]
                    handle._run()  # type: ignore[union-attr]
            # What those callbacks made ready runs next, at the same instant: asyncio's next iterations
            # would do just this (no I/O to poll, time cannot move while callbacks are ready).
            if not ready or self._stopping:
                return


def _dead(due: asyncio.TimerHandle | asyncio.Future[None]) -> bool:
    """A cancelled timer, or the future of a sleep that was cancelled (or resolved) before it was due."""
    return due.done() if due.__class__ is _Future else due._cancelled  # type: ignore[union-attr]


def run_virtual(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` on a fresh virtual-time event loop and return its result (Ctrl-C cancels it)."""
    with collector_paused(), asyncio.Runner(loop_factory=VirtualEventLoop) as runner:
        return runner.run(main)


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
    else; the collector resumes when the last pause in the process ends.
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
                gc.enable()


class VirtualClock:
    """Virtual time: `origin` plus the running virtual loop's time()."""

    def __init__(self, origin: datetime) -> None:
        self.origin = require_aware(origin)
        self._last_moment = 0.0
        self._last_now = self.origin
        self._bound: VirtualEventLoop | None = None

    def _loop(self) -> VirtualEventLoop:
        loop = asyncio._get_running_loop()
        if loop is self._bound and loop is not None:  # the loop it was last read on: already checked
            return loop
        if loop is None:
            raise RuntimeError("VirtualClock is read inside run_virtual(...) only: no event loop is running")
        if not isinstance(loop, VirtualEventLoop):
            raise RuntimeError("VirtualClock needs the virtual event loop (run_virtual); this loop runs on real time")
        self._bound = loop
        return loop

    def now(self) -> datetime:
        moment = self._loop()._virtual_now
        if moment != self._last_moment:  # many reads fall on one instant: the datetime is made once
            self._last_moment, self._last_now = moment, self.origin + timedelta(seconds=moment)
        return self._last_now

    async def sleep(self, seconds: float) -> None:
        loop = self._loop()
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        # asyncio.sleep without its timer and callback: the loop resolves the future when it is due
        # (a sleep runs twice per simulated ARM operation).
        wake = loop.create_future()
        loop.wake_at(loop._virtual_now + seconds, wake)
        await wake
