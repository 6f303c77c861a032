"""What the executor and the actions need of the loop they run on, and nothing more.

The same engine code runs in virtual time on drsim's kernel (drsim.engine.clock.VirtualKernel, the
simulated world) and in real time on asyncio (Azure, the ARM emulator). It never calls asyncio
itself: it asks the `Runtime` of the loop it runs on (`current_runtime()`) for futures, tasks,
callbacks, gather and timeouts. Time itself comes from the Clock (drsim.clock), sleeps included.
Cancellation is asyncio.CancelledError on both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeVar

from drsim.engine.clock import running_kernel

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)


class Waitable(Protocol[T_contra]):
    """A future or a task: awaited for its result; resolved, cancelled or watched by the engine."""

    def __await__(self) -> Any: ...

    def done(self) -> bool: ...

    def cancelled(self) -> bool: ...

    def cancel(self, msg: str | None = None) -> bool: ...

    def set_result(self, value: T_contra) -> None: ...

    def add_done_callback(self, callback: Callable[[Any], object]) -> None: ...


class Deadline(AbstractAsyncContextManager[Any], Protocol):
    """`async with runtime.timeout(s)`: TimeoutError after s seconds; expired() says it fired."""

    def expired(self) -> bool: ...


class Runtime(Protocol):
    """The loop's primitives the engine uses (see module docstring)."""

    def time(self) -> float:
        """Seconds on the loop's monotonic clock (virtual seconds in the simulator)."""
        ...

    def future(self) -> Waitable[Any]: ...

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str | None = None) -> Waitable[T]: ...

    def call_soon(self, fn: Callable[..., object], *args: Any) -> None: ...

    def call_soon_threadsafe(self, fn: Callable[..., object], *args: Any) -> None: ...

    def call_later(self, delay: float, fn: Callable[..., object], *args: Any) -> object: ...

    def gather(self, *awaitables: Awaitable[Any], return_exceptions: bool = False) -> Awaitable[list[Any]]: ...

    def timeout(self, seconds: float) -> Deadline: ...


class AsyncioRuntime:
    """The Runtime of an asyncio loop (real time: Azure, the ARM emulator, tests on asyncio)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def time(self) -> float:
        return self.loop.time()

    def future(self) -> asyncio.Future[Any]:
        return self.loop.create_future()

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
        return self.loop.create_task(coro, name=name)

    def call_soon(self, fn: Callable[..., object], *args: Any) -> None:
        self.loop.call_soon(fn, *args)

    def call_soon_threadsafe(self, fn: Callable[..., object], *args: Any) -> None:
        self.loop.call_soon_threadsafe(fn, *args)

    def call_later(self, delay: float, fn: Callable[..., object], *args: Any) -> object:
        return self.loop.call_later(delay, fn, *args)

    def gather(self, *awaitables: Awaitable[Any], return_exceptions: bool = False) -> Awaitable[list[Any]]:
        return asyncio.gather(*awaitables, return_exceptions=return_exceptions)

    def timeout(self, seconds: float) -> asyncio.Timeout:
        return asyncio.timeout(seconds)


def current_runtime() -> Runtime:
    """The runtime of the loop running in this thread: the virtual kernel, or asyncio's running loop."""
    kernel = running_kernel()
    if kernel is not None:
        return kernel
    return AsyncioRuntime(asyncio.get_running_loop())
