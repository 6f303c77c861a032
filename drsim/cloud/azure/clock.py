"""The provider's time: the wall clock against Azure, the emulator's world time against the ARM emulator.

The ARM emulator runs its world `speed` times faster than real time (a ScaledClock), so a drill
against it must read the world's time, or its measured RTO and RPO would not line up with the
emulator's recovery points. `EmulatorClock` is anchored to one reading of the world's time and runs
at the world's speed on the same monotonic clock, so it tracks the world exactly; every response
carrying the emulator's time headers re-anchors it:

    x-ms-drsim-world-time: 2026-11-20T14:03:27.512000Z     the world's time when it answered
    x-ms-drsim-speed: 60                                    world seconds per real second

`EmulatorTimePolicy` is the per-call SDK policy that reads them. Waits (`sleep`) last
`seconds / speed` real seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import SansIOHTTPPolicy

from drsim.times import parse_utc

WORLD_TIME_HEADER = "x-ms-drsim-world-time"
SPEED_HEADER = "x-ms-drsim-speed"


class EmulatorClock:
    """World time of the ARM emulator: `anchor + (monotonic now - anchored at) * speed`."""

    def __init__(self, world_now: datetime, speed: float, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        if world_now.tzinfo is None:
            raise ValueError(f"world time {world_now.isoformat()} has no time zone")
        if not speed > 0:
            raise ValueError(f"the emulator's speed must be positive, got {speed}")
        self.speed = speed
        self._monotonic = monotonic
        self._anchor = world_now.astimezone(UTC)
        self._anchored_at = monotonic()
        self.readings = 0  # how many emulator responses anchored it

    def anchor(self, world_now: datetime, speed: float | None = None) -> None:
        """The world said it is `world_now` (at its speed): follow it from here on."""
        if speed is not None and speed > 0:
            self.speed = speed
        self._anchor = world_now.astimezone(UTC)
        self._anchored_at = self._monotonic()
        self.readings += 1

    def now(self) -> datetime:
        return self._anchor + timedelta(seconds=(self._monotonic() - self._anchored_at) * self.speed)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


def _world_time(text: str) -> datetime | None:
    try:
        return parse_utc(text)
    except ValueError:
        return None


class EmulatorTimePolicy(SansIOHTTPPolicy):
    """Per-call SDK policy: re-anchor an EmulatorClock from the emulator's time headers."""

    def __init__(self, clock: EmulatorClock) -> None:
        super().__init__()
        self.clock = clock

    def on_response(self, request: PipelineRequest, response: PipelineResponse) -> None:
        headers = response.http_response.headers
        stamp = headers.get(WORLD_TIME_HEADER)
        world_now = _world_time(stamp) if stamp else None
        if world_now is None:
            return
        speed_text = headers.get(SPEED_HEADER)
        try:
            speed = float(speed_text) if speed_text else None
        except ValueError:
            speed = None
        self.clock.anchor(world_now, speed)
