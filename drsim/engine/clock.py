"""Clocks for the one engine: virtual time in the simulated world, real (or scaled) time elsewhere.

The simulated world runs on `VirtualEventLoop`, an asyncio loop whose `time()` is virtual: when every
task waits, it jumps to the next timer instead of blocking, so a 3-hour drill takes milliseconds.
Timers due at the same instant fire in the order they were scheduled (a sequence number breaks ties,
as in SimPy's event heap), so a run repeats exactly. Nothing here reads the wall clock except
`WallClock` (the Azure provider's) and `ScaledClock` (the ARM emulator's, which runs on a real loop).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import selectors
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from drsim.errors import ExecutionError

T = TypeVar("T")

# asyncio's _run_once caps one select() at this many seconds (base_events.MAXIMUM_SELECT_TIMEOUT).
_MAX_SELECT_TIMEOUT = 24 * 3600


class Clock(Protocol):
    """What the engine and the providers read time from."""

    def now(self) -> datetime:
        """The current time, an aware UTC datetime."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Let `seconds` of this clock's time pass."""
        ...


class VirtualDeadlockError(ExecutionError):
    """Every task waits and no timer is pending: virtual time cannot move, so the run can never end."""


class _SequencedTimerHandle(asyncio.TimerHandle):
    """A timer ordered by (due time, scheduling order), so equal-time timers fire first-in first-out."""

    __slots__ = ("_order",)

    def __init__(
        self,
        when: float,
        seq: int,
        callback: Callable[..., object],
        args: tuple[Any, ...],
        loop: asyncio.AbstractEventLoop,
        context: Any = None,
    ) -> None:
        super().__init__(when, callback, args, loop, context=context)
        self._order = (when, seq)

    # Only these handles are ever in the virtual loop's heap, so comparisons need no type checks
    # (they run hundreds of thousands of times in a large drill).
    def __lt__(self, other: _SequencedTimerHandle) -> bool:  # type: ignore[override]
        return self._order < other._order

    def __le__(self, other: _SequencedTimerHandle) -> bool:  # type: ignore[override]
        return self._order <= other._order

    def __gt__(self, other: _SequencedTimerHandle) -> bool:  # type: ignore[override]
        return self._order > other._order

    def __ge__(self, other: _SequencedTimerHandle) -> bool:  # type: ignore[override]
        return self._order >= other._order

    __hash__ = asyncio.TimerHandle.__hash__


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

    def call_at(  # type: ignore[override]
        self, when: float, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.TimerHandle:
        if when is None:
            raise TypeError("when cannot be None")
        self._check_closed()  # type: ignore[attr-defined]
        timer = _SequencedTimerHandle(when, next(self._timer_seq), callback, args, self, context)
        heapq.heappush(self._scheduled, timer)  # type: ignore[attr-defined]
        timer._scheduled = True  # type: ignore[attr-defined]
        return timer

    def _advance_to_next_timer(self, timeout: float) -> None:
        scheduled: list[asyncio.TimerHandle] = self._scheduled  # type: ignore[attr-defined]
        due = scheduled[0].when() if scheduled else self._virtual_now + timeout
        if due - self._virtual_now > _MAX_SELECT_TIMEOUT:
            self._virtual_now += timeout
        else:
            self._virtual_now = max(self._virtual_now, due)


def run_virtual(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` on a fresh virtual-time event loop and return its result (Ctrl-C cancels it)."""
    with asyncio.Runner(loop_factory=VirtualEventLoop) as runner:
        return runner.run(main)


def _require_aware(origin: datetime) -> datetime:
    if origin.tzinfo is None:
        raise ValueError(f"clock origin {origin.isoformat()} has no time zone; give an aware UTC time")
    return origin.astimezone(UTC)


class VirtualClock:
    """Virtual time: `origin` plus the running virtual loop's time()."""

    def __init__(self, origin: datetime) -> None:
        self.origin = _require_aware(origin)

    @staticmethod
    def _loop() -> VirtualEventLoop:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError("VirtualClock is read inside run_virtual(...) only: no event loop is running") from None
        if not isinstance(loop, VirtualEventLoop):
            raise RuntimeError("VirtualClock needs the virtual event loop (run_virtual); this loop runs on real time")
        return loop

    def now(self) -> datetime:
        return self.origin + timedelta(seconds=self._loop().time())

    async def sleep(self, seconds: float) -> None:
        self._loop()
        await asyncio.sleep(max(0.0, seconds))


class ScaledClock:
    """Real loop, time `speed` times faster (the ARM emulator): now = origin + elapsed * speed."""

    def __init__(self, origin: datetime, speed: float) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        self.origin = _require_aware(origin)
        self.speed = speed
        self._start: float | None = None

    def _elapsed(self) -> float:
        loop_time = asyncio.get_running_loop().time()
        if self._start is None:
            self._start = loop_time  # elapsed time counts from the clock's first use
        return loop_time - self._start

    def now(self) -> datetime:
        return self.origin + timedelta(seconds=self._elapsed() * self.speed)

    async def sleep(self, seconds: float) -> None:
        self._elapsed()
        await asyncio.sleep(max(0.0, seconds) / self.speed)


class WallClock:
    """The real clock, for the Azure provider (the one place real time is meant)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
