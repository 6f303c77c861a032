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
    """Real loop, time `speed` times faster (the ARM emulator): now = origin + elapsed * speed."""

    def __init__(self, origin: datetime, speed: float) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        self.origin = require_aware(origin)
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


class StoppedClock:
    """Time stopped at one instant: for reading what the simulated world holds at `at` without running it."""

    def __init__(self, at: datetime) -> None:
        self.at = require_aware(at)

    def now(self) -> datetime:
        return self.at

    async def sleep(self, seconds: float) -> None:
        raise RuntimeError("a stopped clock cannot let time pass")
