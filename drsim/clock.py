"""The Clock protocol and the real-time clocks: what every layer reads time from.

The engine and the providers read time from a `Clock`. The simulated world runs on the engine's
virtual-time kernel (`drsim.engine.clock.VirtualClock`: that kernel, not asyncio, serves its
sleeps); the Azure provider on `WallClock`, the one place real time is meant; the ARM emulator on
`ScaledClock`, real time `speed` times faster.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What the engine and the providers read time from."""

    def now(self) -> datetime:
        """The current time, an aware UTC datetime."""
        ...

    def sleep(self, seconds: float) -> Awaitable[None]:
        """Let `seconds` of this clock's time pass (awaited: an `async def sleep` serves)."""
        ...


def require_aware(origin: datetime) -> datetime:
    if origin.tzinfo is None:
        raise ValueError(f"clock origin {origin.isoformat()} has no time zone; give an aware UTC time")
    return origin.astimezone(UTC)


class ScaledClock:
    """Real loop, time `speed` times faster (the ARM emulator): now = origin + elapsed * speed.

    `pause()` stops its time (and every sleep on it) until `go_on()`: a test holds the emulator's world
    still while the drsim it serves is stopped, so that Azure "behaves" as if no time had passed.
    Both are called in the clock's loop."""

    def __init__(self, origin: datetime, speed: float) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        self.origin = require_aware(origin)
        self.speed = speed
        self._start: float | None = None
        self._paused_at: float | None = None
        self._held = 0.0  # loop seconds spent paused
        self._going_on: asyncio.Event | None = None

    def _elapsed(self) -> float:
        loop_time = asyncio.get_running_loop().time()
        if self._start is None:
            self._start = loop_time  # elapsed time counts from the clock's first use
        if self._paused_at is not None:
            loop_time = self._paused_at
        return loop_time - self._start - self._held

    def now(self) -> datetime:
        return self.origin + timedelta(seconds=self._elapsed() * self.speed)

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def pause(self) -> None:
        if self._paused_at is None:
            self._elapsed()
            self._paused_at = asyncio.get_running_loop().time()

    def go_on(self) -> None:
        if self._paused_at is not None:
            self._held += asyncio.get_running_loop().time() - self._paused_at
            self._paused_at = None
            if self._going_on is not None:
                self._going_on.set()
                self._going_on = None

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0 and self._paused_at is None:
            self._elapsed()
            await asyncio.sleep(0)
            return
        until = self._elapsed() + max(0.0, seconds) / self.speed
        while True:
            if self._paused_at is not None:
                if self._going_on is None:
                    self._going_on = asyncio.Event()
                await self._going_on.wait()
                continue
            left = until - self._elapsed()
            if left <= 0:
                return
            await asyncio.sleep(left)


class WallClock:
    """The real clock, for the Azure provider (the one place real time is meant)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class StoppedClock:
    """Time stopped at one instant: for reading what the simulated world holds at `at` without running it."""

    def __init__(self, at: datetime) -> None:
        self.at = require_aware(at)

    def now(self) -> datetime:
        return self.at

    async def sleep(self, seconds: float) -> None:
        raise RuntimeError("a stopped clock cannot let time pass")
