"""The emulator's world time: a clock anchored to the world, re-anchored by the emulator's headers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from fake_arm import SUB, Answer, FakeArm, serve

from drsim.cloud.azure.clock import SPEED_HEADER, WORLD_TIME_HEADER, EmulatorClock
from drsim.cloud.azure.provider import AzureProvider
from drsim.model.documents import AzureOptions

T0 = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


class Monotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_world_time_runs_at_the_world_speed():
    real = Monotonic()
    clock = EmulatorClock(T0, 60.0, monotonic=real)
    real.now += 2.5
    assert clock.now() == T0 + timedelta(minutes=2.5)


def test_a_new_reading_re_anchors_the_clock():
    real = Monotonic()
    clock = EmulatorClock(T0, 60.0, monotonic=real)
    real.now += 10
    clock.anchor(T0 + timedelta(minutes=9), speed=120.0)
    real.now += 1
    assert clock.now() == T0 + timedelta(minutes=11)


def test_sleep_lasts_the_world_duration_divided_by_the_speed():
    clock = EmulatorClock(T0, 3600.0)

    async def timed() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await clock.sleep(1.0)
        return loop.time() - start

    assert asyncio.run(timed()) < 0.5  # one world second is 0.3 ms of real time; never a real second


def test_a_clock_needs_a_time_zone_and_a_positive_speed():
    with pytest.raises(ValueError, match="time zone"):
        EmulatorClock(datetime(2026, 11, 20), 60.0)
    with pytest.raises(ValueError, match="positive"):
        EmulatorClock(T0, 0)


def test_the_provider_follows_the_time_headers_of_every_response():
    vm = f"/subscriptions/{SUB}/resourceGroups/prod/providers/Microsoft.Compute/virtualMachines/web-01"
    said = T0 + timedelta(hours=1, seconds=12.5)
    fake = FakeArm()
    fake.on(
        "GET",
        vm,
        Answer(
            body={"id": vm, "name": "web-01", "location": "eastus2", "properties": {}},
            headers={WORLD_TIME_HEADER: said.isoformat().replace("+00:00", "Z"), SPEED_HEADER: "30"},
        ),
    )
    real = Monotonic()
    clock = EmulatorClock(T0, 60.0, monotonic=real)

    async def main():
        async with serve(fake) as base:
            options = AzureOptions(subscription_id=SUB, resource_group="drill", endpoint=base)
            async with AzureProvider(options, clock=clock) as provider:
                await provider.get_vm(vm)
                return provider.clock.now()

    assert asyncio.run(main()) == said
    assert clock.speed == 30.0


def connect_to(fake: FakeArm):
    from drsim.cloud.azure.provider import connect

    async def main():
        async with serve(fake) as base:
            provider = await connect(AzureOptions(subscription_id=SUB, resource_group="drill", endpoint=base))
            async with provider:
                return provider.clock, provider.clock.now()

    return asyncio.run(main())


def test_connect_anchors_the_clock_to_the_emulator_before_the_drill():
    said = T0 + timedelta(minutes=5)
    fake = FakeArm()
    fake.on(
        "GET",
        f"/subscriptions/{SUB}/resourcegroups",
        Answer(body={"value": []}, headers={WORLD_TIME_HEADER: said.isoformat(), SPEED_HEADER: "600"}),
    )
    clock, now = connect_to(fake)
    assert isinstance(clock, EmulatorClock) and clock.speed == 600.0
    assert said <= now < said + timedelta(minutes=10)


def test_connect_refuses_a_loopback_endpoint_that_is_not_the_emulator():
    from drsim.errors import ProviderError

    fake = FakeArm()
    fake.on("GET", f"/subscriptions/{SUB}/resourcegroups", Answer(body={"value": []}))
    with pytest.raises(ProviderError, match="sent no x-ms-drsim-world-time header"):
        connect_to(fake)
