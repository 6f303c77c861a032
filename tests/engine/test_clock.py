"""The virtual-time kernel: instant long sleeps, FIFO ties, timeouts, cancellation, deadlock detection."""

from __future__ import annotations

import asyncio
import gc
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drsim.clock import ScaledClock
from drsim.engine.clock import VirtualClock, VirtualKernel, run_virtual
from drsim.engine.runtime import AsyncioRuntime, current_runtime
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
        runtime = current_runtime()
        for i in range(50):
            runtime.call_later(10.0, log.append, i)
        await VirtualClock(ORIGIN).sleep(20)

    run_virtual(main())
    assert log == list(range(50))


def test_sleepers_and_timers_due_together_go_in_scheduling_order() -> None:
    clock = VirtualClock(ORIGIN)
    log: list[str] = []

    async def sleeper(name: str) -> None:
        await clock.sleep(10)
        log.append(name)

    async def main() -> None:
        runtime = current_runtime()
        first = runtime.spawn(sleeper("sleep-1"))
        await clock.sleep(0)  # sleep-1 schedules its wake-up first
        runtime.call_later(10, log.append, "timer")
        second = runtime.spawn(sleeper("sleep-2"))
        await runtime.gather(first, second)

    run_virtual(main())
    assert log == ["sleep-1", "timer", "sleep-2"]


def test_tasks_start_in_the_order_they_were_spawned_and_a_turn_lets_the_others_run() -> None:
    log: list[str] = []
    clock = VirtualClock(ORIGIN)

    async def worker(name: str) -> None:
        log.append(f"{name}:1")
        await clock.sleep(0)
        log.append(f"{name}:2")

    async def main() -> None:
        runtime = current_runtime()
        await runtime.gather(*(worker(n) for n in "abc"))

    run_virtual(main())
    assert log == ["a:1", "b:1", "c:1", "a:2", "b:2", "c:2"]


def test_concurrent_tasks_interleave_by_virtual_time() -> None:
    clock = VirtualClock(ORIGIN)
    log: list[tuple[str, float]] = []

    async def worker(name: str, delays: list[float]) -> None:
        for d in delays:
            await clock.sleep(d)
            log.append((name, (clock.now() - ORIGIN).total_seconds()))

    async def main() -> None:
        await current_runtime().gather(worker("a", [5, 5, 5]), worker("b", [7, 1]), worker("c", [10]))

    run_virtual(main())
    # c's 10 s timer was scheduled at t=0, before a's second one (at t=5): c goes first at t=10.
    assert log == [("a", 5.0), ("b", 7.0), ("b", 8.0), ("c", 10.0), ("a", 10.0), ("a", 15.0)]


def test_futures_wake_their_waiters_in_order() -> None:
    log: list[str] = []

    async def waiter(name: str, future: object) -> None:
        log.append(f"{name}={await future}")  # type: ignore[misc]

    async def main() -> None:
        runtime = current_runtime()
        future = runtime.future()
        tasks = [runtime.spawn(waiter(n, future)) for n in "xy"]
        await VirtualClock(ORIGIN).sleep(1)
        future.set_result(7)
        await runtime.gather(*tasks)

    run_virtual(main())
    assert log == ["x=7", "y=7"]


def test_timeout_raises_in_virtual_time() -> None:
    clock = VirtualClock(ORIGIN)

    async def main() -> tuple[datetime, bool]:
        deadline = current_runtime().timeout(60)
        with pytest.raises(TimeoutError):
            async with deadline:
                await clock.sleep(3600)
        return clock.now(), deadline.expired()

    assert run_virtual(main()) == (ORIGIN + timedelta(seconds=60), True)


def test_a_timeout_that_does_not_fire_changes_nothing() -> None:
    clock = VirtualClock(ORIGIN)

    async def main() -> tuple[datetime, bool]:
        deadline = current_runtime().timeout(60)
        async with deadline:
            await clock.sleep(30)
        await clock.sleep(60)  # the cancelled timer does not fire later
        return clock.now(), deadline.expired()

    assert run_virtual(main()) == (ORIGIN + timedelta(seconds=90), False)


def test_a_cancelled_sleep_does_not_move_virtual_time() -> None:
    clock = VirtualClock(ORIGIN)

    async def main() -> datetime:
        runtime = current_runtime()
        long = runtime.spawn(clock.sleep(3600))  # type: ignore[arg-type]
        await clock.sleep(5)
        long.cancel()
        with pytest.raises(asyncio.CancelledError):
            await long
        return clock.now()

    assert run_virtual(main()) == ORIGIN + timedelta(seconds=5)
    # ... and the run ends at once: the kernel never jumps to the cancelled sleep's hour.


def test_cancelling_a_task_that_waits_on_a_future_cancels_the_future() -> None:
    async def waiting(future: object) -> str:
        try:
            await future  # type: ignore[misc]
        except asyncio.CancelledError:
            return "cancelled"
        return "woken"

    async def main() -> tuple[str, bool]:
        runtime = current_runtime()
        future = runtime.future()
        task = runtime.spawn(waiting(future))
        await VirtualClock(ORIGIN).sleep(1)
        task.cancel()
        return await task, future.cancelled()

    assert run_virtual(main()) == ("cancelled", True)


def test_cancelling_a_gather_cancels_what_it_runs() -> None:
    clock = VirtualClock(ORIGIN)
    log: list[str] = []

    async def child(name: str) -> None:
        try:
            await clock.sleep(100)
        except asyncio.CancelledError:
            log.append(name)
            raise

    async def main() -> datetime:
        runtime = current_runtime()
        gathering = runtime.spawn(runtime.gather(child("a"), child("b")))  # type: ignore[arg-type]
        await clock.sleep(10)
        gathering.cancel()
        with pytest.raises(asyncio.CancelledError):
            await gathering
        await clock.sleep(0)
        return clock.now()

    assert run_virtual(main()) == ORIGIN + timedelta(seconds=10)
    assert sorted(log) == ["a", "b"]


def test_exceptions_propagate_to_whoever_awaits() -> None:
    clock = VirtualClock(ORIGIN)

    async def failing() -> None:
        await clock.sleep(1)
        raise KeyError("lost")

    async def main() -> list[object]:
        runtime = current_runtime()
        with pytest.raises(KeyError):
            await runtime.spawn(failing())
        return await runtime.gather(failing(), clock.sleep(2), return_exceptions=True)

    results = run_virtual(main())
    assert isinstance(results[0], KeyError) and results[1] is None
    with pytest.raises(ValueError, match="main failed"):

        async def main_fails() -> None:
            await clock.sleep(1)
            raise ValueError("main failed")

        run_virtual(main_fails())


def test_deadlock_is_reported_instead_of_hanging() -> None:
    async def main() -> None:
        await current_runtime().future()

    with pytest.raises(VirtualDeadlockError, match="deadlock"):
        run_virtual(main())


def test_a_keyboard_interrupt_cancels_every_task_and_is_raised() -> None:
    clock = VirtualClock(ORIGIN)
    unwound: list[str] = []

    async def worker() -> None:
        try:
            await clock.sleep(1000)
        finally:
            unwound.append("worker")

    async def main() -> None:
        current_runtime().spawn(worker())
        await clock.sleep(10)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_virtual(main())
    assert unwound == ["worker"]


def test_awaiting_what_the_kernel_does_not_serve_is_refused() -> None:
    class Foreign:
        def __await__(self):  # type: ignore[no-untyped-def]
            yield "an asyncio future, say"

    async def main() -> None:
        await Foreign()

    async def on_asyncio() -> None:
        await asyncio.sleep(1)

    with pytest.raises(RuntimeError, match="does not serve"):
        run_virtual(main())
    with pytest.raises(RuntimeError, match="no running event loop"):
        run_virtual(on_asyncio())


def test_virtual_clock_outside_the_kernel_is_refused() -> None:
    with pytest.raises(RuntimeError, match="run_virtual"):
        VirtualClock(ORIGIN).now()


def test_runtime_outside_the_kernel_is_asyncio() -> None:
    async def main() -> object:
        return current_runtime()

    assert isinstance(asyncio.run(main()), AsyncioRuntime)
    assert isinstance(run_virtual(main()), VirtualKernel)


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
            await current_runtime().gather(*(worker(i, ds) for i, ds in enumerate(delays)))

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


def test_timers_months_into_a_run_still_fire() -> None:
    # At 200 days (1.7e7 s) adding the kernel's 1e-9 s resolution no longer changes a float: a timer
    # due exactly now must fire anyway, not leave the kernel spinning.
    clock = VirtualClock(ORIGIN)
    log: list[float] = []

    async def main() -> datetime:
        runtime = current_runtime()
        await clock.sleep(200 * 86400)
        runtime.call_later(0, log.append, runtime.time())
        await runtime.gather(clock.sleep(1.5), clock.sleep(1.5), clock.sleep(3))
        return clock.now()

    assert run_virtual(main()) == ORIGIN + timedelta(days=200, seconds=3)
    assert log == [200 * 86400]
