"""ARM throttling, injected failures and latency of the simulated world (azure-sdk-notes.md)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from simworld import make_world, run

from drsim.cloud.api import RUN_TAG
from drsim.cloud.arm import RequestClass
from drsim.errors import ThrottledError, TransientError

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_world_operations_draw_on_the_right_bucket() -> None:
    world = make_world(throttling=True)
    disk = world.truth.disk_id("web-01", "os")

    async def main():  # type: ignore[no-untyped-def]
        await world.create_snapshot(disk, name="s", incremental=True, tags={RUN_TAG: "r"})
        await world.list_vms()
        await world.delete(f"{disk}-missing")

    run(main)
    tokens = {request: world.throttle.tokens("eastus2", request) for request in RequestClass}
    assert tokens[RequestClass.WRITE] is not None and tokens[RequestClass.WRITE] < 200
    assert tokens[RequestClass.READ] is not None and tokens[RequestClass.READ] < 250
    assert tokens[RequestClass.DELETE] is not None and tokens[RequestClass.DELETE] < 200


def test_the_world_throttles_a_burst_of_writes() -> None:
    world = make_world(throttling=True)
    disk = world.truth.disk_id("web-01", "os")

    async def main() -> int:
        refused = 0
        for _ in range(230):
            try:
                world.throttle.admit("eastus2", RequestClass.WRITE, world.now())
            except ThrottledError:
                refused += 1
        return refused

    assert run(main) == 30
    with pytest.raises(ThrottledError):
        run(lambda: world.create_snapshot(disk, name="s", incremental=True, tags={}))


def test_injected_failures_are_seeded_and_retryable() -> None:
    def outcomes(seed: int) -> list[bool]:
        world = make_world(failure_rate=0.3, seed=seed)

        async def main() -> list[bool]:
            found = []
            for _ in range(40):
                try:
                    await world.list_vms()
                    found.append(True)
                except TransientError as error:
                    assert error.retryable
                    found.append(False)
            return found

        return run(main)

    first = outcomes(7)
    assert first == outcomes(7)
    assert 4 <= first.count(False) <= 20
    assert first != outcomes(8)


def test_latency_multiplier_slows_every_operation() -> None:
    def duration(latency: float) -> float:
        world = make_world(latency=latency)

        async def main() -> float:
            start = world.now()
            await world.create_snapshot(world.truth.disk_id("web-01", "os"), name="s", incremental=True, tags={})
            return (world.now() - start).total_seconds()

        return run(main)

    assert duration(3.0) == pytest.approx(3 * duration(1.0))
