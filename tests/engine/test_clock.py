"""The virtual-time loop: instant long sleeps, FIFO ties, determinism, deadlock detection."""

from __future__ import annotations

import asyncio
import gc
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drsim.clock import ScaledClock
from drsim.engine.clock import VirtualClock, run_virtual
from drsim.errors import VirtualDeadlockError

ORIGIN = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_three_hour_sleep_moves_virtual_time_by_exactly_three_hours() -> None:
    clock = VirtualClock(ORIGIN)

    async def main() -> datetime:
        await clock.sleep(3 * 3600)
        return clock.now()

    assert run_virtual(main()) == ORIGIN + timedelta(hours=3)


def test_sleeps_longer_than_a_day_are_exact() -> None:
    clock = VirtualClock(ORIGIN)

    async def main() -> datetime:
        await clock.sleep(9 * 86400 + 5)
        return clock.now()

    assert run_virtual(main()) == ORIGIN + timedelta(days=9, seconds=5)


def test_equal_time_timers_fire_in_scheduling_order() -> None:
    log: list[int] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for i in range(50):
            loop.call_at(10.0, log.append, i)
        await asyncio.sleep(20)

    run_virtual(main())
    assert log == list(range(50))


def test_concurrent_tasks_interleave_by_virtual_time() -> None:
    clock = VirtualClock(ORIGIN)
    log: list[tuple[str, float]] = []

    async def worker(name: str, delays: list[float]) -> None:
        for d in delays:
            await clock.sleep(d)
            log.append((name, (clock.now() - ORIGIN).total_seconds()))

    async def main() -> None:
        await asyncio.gather(worker("a", [5, 5, 5]), worker("b", [7, 1]), worker("c", [10]))

    run_virtual(main())
    # c's 10 s timer was scheduled at t=0, before a's second one (at t=5): c goes first at t=10.
    assert log == [("a", 5.0), ("b", 7.0), ("b", 8.0), ("c", 10.0), ("a", 10.0), ("a", 15.0)]


def test_wait_for_times_out_in_virtual_time() -> None:
    clock = VirtualClock(ORIGIN)

    async def main() -> datetime:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(clock.sleep(3600), timeout=60)
        return clock.now()

    assert run_virtual(main()) == ORIGIN + timedelta(seconds=60)


def test_deadlock_is_reported_instead_of_hanging() -> None:
    async def main() -> None:
        await asyncio.get_running_loop().create_future()

    with pytest.raises(VirtualDeadlockError, match="deadlock"):
        run_virtual(main())


def test_virtual_clock_outside_the_virtual_loop_is_refused() -> None:
    with pytest.raises(RuntimeError, match="run_virtual"):
        VirtualClock(ORIGIN).now()


def test_naive_origin_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        VirtualClock(datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="positive"):
        ScaledClock(ORIGIN, 0)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=5), min_size=1, max_size=8))
def test_same_program_same_trace(delays: list[list[int]]) -> None:
    def trace() -> list[tuple[int, float]]:
        clock = VirtualClock(ORIGIN)
        log: list[tuple[int, float]] = []

        async def worker(i: int, ds: list[int]) -> None:
            for d in ds:
                await clock.sleep(d)
                log.append((i, (clock.now() - ORIGIN).total_seconds()))

        async def main() -> None:
            await asyncio.gather(*(worker(i, ds) for i, ds in enumerate(delays)))

        run_virtual(main())
        return log

    first = trace()
    assert first == trace()
    assert [t for _, t in first] == sorted(t for _, t in first)
    assert max(t for _, t in first) == max(sum(ds) for ds in delays)


def test_the_garbage_collector_pauses_during_a_virtual_run_and_resumes_after() -> None:
    async def collecting() -> bool:
        return gc.isenabled()

    assert gc.isenabled()
    assert run_virtual(collecting()) is False
    assert gc.isenabled()
    gc.disable()
    try:
        run_virtual(collecting())
        assert not gc.isenabled()  # a collector the caller turned off stays off
    finally:
        gc.enable()


def test_clock_sleeps_and_loop_timers_due_together_keep_asyncio_order() -> None:
    clock = VirtualClock(ORIGIN)
    log: list[str] = []

    async def sleeper(name: str) -> None:
        await clock.sleep(10)
        log.append(name)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        first = asyncio.create_task(sleeper("sleep-1"))
        await asyncio.sleep(0)  # sleep-1 schedules its wake-up first
        loop.call_at(10, log.append, "timer")
        second = asyncio.create_task(sleeper("sleep-2"))
        await asyncio.gather(first, second)

    run_virtual(main())
    # As with asyncio.sleep: at t=10 the due entries fire in the order they were scheduled; a timer's
    # callback runs then, a sleeper's task resumes one step later (its future's done-callback).
    assert log == ["timer", "sleep-1", "sleep-2"]


def test_a_cancelled_clock_sleep_does_not_move_virtual_time() -> None:
    clock = VirtualClock(ORIGIN)

    async def main() -> datetime:
        long = asyncio.create_task(clock.sleep(3600))
        await clock.sleep(5)
        long.cancel()
        with pytest.raises(asyncio.CancelledError):
            await long
        await asyncio.sleep(0)
        return clock.now()

    assert run_virtual(main()) == ORIGIN + timedelta(seconds=5)
    # ... and the run ends at once: the loop never jumps to the cancelled sleep's hour.


def test_timeouts_cancel_clock_sleeps_in_virtual_time() -> None:
    clock = VirtualClock(ORIGIN)

    async def main() -> datetime:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(30):
                await clock.sleep(3600)
        return clock.now()

    assert run_virtual(main()) == ORIGIN + timedelta(seconds=30)


def test_timers_months_into_a_run_still_fire() -> None:
    # At 200 days (1.7e7 s) adding the loop's 1e-9 s resolution no longer changes a float: a timer due
    # exactly now must fire anyway, not leave the loop spinning.
    clock = VirtualClock(ORIGIN)
    log: list[float] = []

    async def main() -> datetime:
        loop = asyncio.get_running_loop()
        await clock.sleep(200 * 86400)
        loop.call_at(loop.time(), log.append, loop.time())
        await asyncio.gather(clock.sleep(1.5), clock.sleep(1.5), asyncio.sleep(3))
        return clock.now()

    assert run_virtual(main()) == ORIGIN + timedelta(days=200, seconds=3)
    assert log == [200 * 86400]
