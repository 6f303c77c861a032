"""Serving the emulator: the aiohttp application, `serve_emulator` for tests, `EmulatorThread`, the CLI.

`serve_emulator` runs the app in the caller's event loop (for aiohttp-client tests); the Azure SDK's
`.aio` clients are happiest in a loop of their own, so `EmulatorThread` runs the same app in a
background thread with its own loop. Both bind loopback by default: the emulator checks no tokens.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from drsim.cloud.emulator.app import BODY_TIMEOUT_S, Emulator
from drsim.cloud.emulator.world import ArmSettings, EmulatedWorld, EmulatorOptions, build_world, world_speed
from drsim.errors import ExecutionError, UsageError

log = logging.getLogger(__name__)
T = TypeVar("T")
HEADER_TIMEOUT_S = 20.0
"""How long a connection may stay without a whole request (headers not finished, or idle between
requests) before the emulator closes it: longer than the 15 s aiohttp clients keep idle connections,
so a client never reuses one the emulator is closing."""
LINGER_S = 2.0
"""How long the rest of an unread body (after a 408 or 413) is read and dropped before the connection
closes: long enough for a client on loopback to finish sending and read the answer, short enough not to hold a slow sender."""


@dataclass(frozen=True)
class EmulatorHandle:
    """A running emulator: where it listens and what it holds."""

    url: str  # http://127.0.0.1:PORT, the SDK clients' base_url
    host: str
    port: int
    subscription_id: str
    resource_groups: tuple[str, ...]
    world: EmulatedWorld
    emulator: Emulator


@asynccontextmanager
async def serve_emulator(
    world_or_options: EmulatedWorld | EmulatorOptions,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    header_timeout: float = HEADER_TIMEOUT_S,
    body_timeout: float = BODY_TIMEOUT_S,
    settings: ArmSettings | None = None,
) -> AsyncIterator[EmulatorHandle]:
    """Serve the emulator in the running loop on `host:port` (port 0: a free one) until the block ends.

    A connection that has not sent a whole request's headers within `header_timeout` is closed, and a
    body not received within `body_timeout` of its headers is answered 408: slow senders are not held.
    `settings` (page size, writable groups, vCPU quota, storage accounts) default to the options' (or ArmSettings()).
    """
    if isinstance(world_or_options, EmulatorOptions):
        world = build_world(world_or_options)
        seed = world_or_options.seed or 0
        settings = settings or world_or_options.arm
    else:
        world, seed = world_or_options, 0
    emulator = Emulator(world, speed=world_speed(world), seed=seed, body_timeout=body_timeout, settings=settings)
    # aiohttp closes a connection that has no whole request after keepalive_timeout (75 s by default),
    # and reads an unread body for lingering_time (10 s by default) before closing.
    runner = web.AppRunner(emulator.app(), access_log=None, handle_signals=False, keepalive_timeout=header_timeout, lingering_time=LINGER_S)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        bound_host, bound_port = runner.addresses[0][:2]
        url_host = f"[{bound_host}]" if ":" in bound_host else bound_host
        yield EmulatorHandle(
            url=f"http://{url_host}:{bound_port}",
            host=bound_host,
            port=bound_port,
            subscription_id=emulator.subscription_id,
            resource_groups=await emulator.resource_group_names(),
            world=world,
            emulator=emulator,
        )
    finally:
        await emulator.close()
        await runner.cleanup()


class EmulatorThread:
    """The emulator in a background thread with its own event loop (for SDK clients in another loop).

    `with EmulatorThread(world_or_options) as handle:` starts it and waits until it listens;
    `call(fn)` runs `fn()` (a coroutine function) in the emulator's loop, where the world lives.
    """

    def __init__(
        self,
        world_or_options: EmulatedWorld | EmulatorOptions,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        settings: ArmSettings | None = None,
    ) -> None:
        self._source = world_or_options
        self._settings = settings
        self._host = host
        self._port = port
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._handle: EmulatorHandle | None = None
        self._error: BaseException | None = None

    @property
    def handle(self) -> EmulatorHandle:
        if self._handle is None:
            raise ExecutionError("the emulator thread is not running; call start() first")
        return self._handle

    def start(self, timeout: float = 30.0) -> EmulatorHandle:
        """Start serving and return once the port is bound (or raise what stopped it)."""
        if self._thread is not None:
            raise ExecutionError("this emulator thread was already started")
        self._thread = threading.Thread(target=self._run, name="drsim-arm-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise ExecutionError(f"the emulator did not start within {timeout:.0f} s")
        if self._error is not None:
            raise self._error
        return self.handle

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to start(); the thread itself just ends
            self._error = exc
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serve_emulator(self._source, self._host, self._port, settings=self._settings) as handle:
            self._handle = handle
            self._ready.set()
            await self._stop.wait()

    def call(self, fn: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
        """Run `fn()` in the emulator's loop and return its result (the world is not thread-safe)."""
        if self._loop is None or self._handle is None:
            raise ExecutionError("the emulator thread is not running")

        async def run() -> T:
            return await fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop serving and join the thread (idempotent)."""
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> EmulatorHandle:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()


def run_emulator(options: EmulatorOptions, host: str = "127.0.0.1", port: int = 0, *, echo: Callable[[str], None] = print) -> None:
    """Serve until interrupted (the `drsim emulator serve` command): print the endpoint, subscription and groups."""

    async def main() -> None:
        async with serve_emulator(options, host, port) as handle:
            echo(f"drsim ARM emulator listening on {handle.url}")
            echo(f"  subscription: {handle.subscription_id}")
            echo(f"  resource groups: {', '.join(handle.resource_groups) or '(none)'}")
            echo(f"  writable by the drill identity: {', '.join(handle.emulator.state.writable_groups)}")
            echo(f"  lists answer {handle.emulator.settings.page_size} items a page; {handle.emulator.state.vcpu_quota} vCPUs per region")
            echo(f"  time runs {handle.emulator.speed:g}x faster than real time; world time now {handle.world.now().isoformat()}")
            echo(f"  operation durations from catalog {handle.world.catalog.label}")
            echo("  any bearer token is accepted; press Ctrl-C to stop")
            await asyncio.Event().wait()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        echo("drsim ARM emulator stopped")
