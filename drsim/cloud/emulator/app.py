"""The emulator application: one aiohttp handler that authenticates, routes and throttles like ARM.

Order of checks, as ARM applies them: a bearer token (401), the api-version (400), the route (404
InvalidResourceType / 405), the subscription (404 SubscriptionNotFound), the resource group (404
ResourceGroupNotFound), then the request-class token bucket of the world (429 with Retry-After,
request-limits-and-throttling), then the resource provider's handler.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from drsim.cloud.emulator.arm import MAX_BODY_BYTES, ArmError, ErrorCode, Router, arm_time, from_provider_error
from drsim.cloud.emulator.backup import BackupService
from drsim.cloud.emulator.compute import ComputeService
from drsim.cloud.emulator.network import NetworkService
from drsim.cloud.emulator.operations import OperationRegistry
from drsim.cloud.emulator.resources import ResourcesService
from drsim.cloud.emulator.siterecovery import SiteRecoveryService
from drsim.cloud.emulator.state import EmulatorState
from drsim.cloud.emulator.world import EmulatedWorld
from drsim.errors import ProviderError

log = logging.getLogger(__name__)

GROUP_PARAM = "resource_group"
WORLD_TIME_HEADER = "x-ms-drsim-world-time"
"""The world's time when the emulator answered (ISO 8601 UTC); drsim's Azure provider follows it."""
SPEED_HEADER = "x-ms-drsim-speed"
"""World seconds per real second."""
"""Route templates name the resource group `{resource_group}` when it must already exist."""
BODY_TIMEOUT_S = 10.0
"""How long a request body may take to arrive once its headers have (a slow sender gets 408 and is disconnected)."""


class Emulator:
    """ARM over one simulated world: Compute, Network, Recovery Services and Resources endpoints."""

    def __init__(self, world: EmulatedWorld, *, speed: float, seed: int = 0, body_timeout: float = BODY_TIMEOUT_S) -> None:
        self.world = world
        self.speed = speed
        self.body_timeout = body_timeout
        self.state = EmulatorState(world)
        self.subscription_id = self.state.subscription_id
        self.operations = OperationRegistry(world.now, speed=speed, seed=seed)
        self.throttled = 0
        """How many requests were answered 429 (for tests of clients that must honour Retry-After)."""
        self.router = Router()
        self.resources = ResourcesService(self)
        self.compute = ComputeService(self)
        self.network = NetworkService(self)
        self.backup = BackupService(self)
        self.site_recovery = SiteRecoveryService(self)
        for service in (self.resources, self.compute, self.network, self.backup, self.site_recovery):
            service.register(self.router)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    async def resource_group_names(self) -> tuple[str, ...]:
        return tuple(sorted(await self.state.resource_groups(), key=str.lower))

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        try:
            await self._receive_body(request)
            response = await self._dispatch(request)
        except ArmError as exc:
            response = self._answer(exc)
            if exc.status in (408, 413):  # the rest of the body is not read: the connection cannot carry another request
                response.force_close()
        except ProviderError as exc:
            response = self._answer(from_provider_error(exc, speed=self.speed))
        except Exception as exc:  # a bug must not take the server down: answer as ARM does
            log.exception("%s %s failed", request.method, request.path)
            response = ArmError(500, ErrorCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}").response()
        # The world's time on every answer, so a client can keep its clock on world time.
        response.headers[WORLD_TIME_HEADER] = arm_time(self.world.now())
        response.headers[SPEED_HEADER] = f"{self.speed:g}"
        return response

    async def _receive_body(self, request: web.Request) -> None:
        """Read the whole body before anything else looks at the request (handlers then get it from
        aiohttp's cache): one too large is refused by its Content-Length, unread, and one that does
        not arrive within body_timeout is answered 408 rather than held open."""
        too_large = ArmError(
            413, ErrorCode.REQUEST_CONTENT_TOO_LARGE, f"The request content size exceeds the maximum size of {MAX_BODY_BYTES // 2**20} MB."
        )
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            raise too_large
        if not request.body_exists:
            return
        try:
            async with asyncio.timeout(self.body_timeout):
                await request.read()
        except TimeoutError:
            raise ArmError(
                408, ErrorCode.REQUEST_TIMEOUT, f"The request content did not arrive within {self.body_timeout:g} seconds."
            ) from None
        except web.HTTPRequestEntityTooLarge:  # a chunked body that grew past the limit
            raise too_large from None

    def _answer(self, error: ArmError) -> web.Response:
        if error.status == 429:
            self.throttled += 1
        return error.response()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        authorization = request.headers.get("Authorization", "")
        if not authorization.lower().startswith("bearer ") or not authorization[7:].strip():
            error = ArmError(
                401,
                ErrorCode.AUTHENTICATION_FAILED,
                "Authentication failed. The 'Authorization' header is missing or is not a bearer token.",
            )
            response = error.response()
            response.headers["WWW-Authenticate"] = (
                'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token"'
            )
            return response
        if request.method == "GET" and self.backup.serves_blob(request.path):
            return await self.backup.get_blob(request)  # a staging account's blob: Blob service, not ARM
        if not request.query.get("api-version"):
            raise ArmError(
                400, ErrorCode.MISSING_API_VERSION, "The api-version query parameter (?api-version=) is required for all requests."
            )
        route, params = self.router.resolve(request.method, request.path)
        subscription = params.get("subscription")
        if subscription is not None and subscription.lower() != self.subscription_id.lower():
            raise ArmError(404, ErrorCode.SUBSCRIPTION_NOT_FOUND, f"The subscription '{subscription}' could not be found.")
        group = params.get(GROUP_PARAM)
        if group is not None and await self.state.find_resource_group(group) is None:
            raise ArmError(404, ErrorCode.RESOURCE_GROUP_NOT_FOUND, f"Resource group '{group}' could not be found.")
        throttle, region = self.state.throttle, self.state.arm_region
        throttle.admit(region, route.request_class, self.world.now(), request.headers.get("x-ms-client-request-id"))
        answer = await route.handler(request, params)
        remaining = throttle.remaining(region, route.request_class, self.world.now())
        if remaining is not None:
            # ARM reports what is left of the bucket (request-limits-and-throttling).
            answer.headers[f"x-ms-ratelimit-remaining-subscription-{route.request_class.value}s"] = str(int(remaining))
        return answer

    async def close(self) -> None:
        await self.operations.close()
        self.state.release()
