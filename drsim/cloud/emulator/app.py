"""The emulator application: one aiohttp handler that authenticates, routes, authorizes, throttles
and pages like ARM.

Order of checks, as ARM applies them: a bearer token (401), the api-version (400
MissingApiVersionParameter; 400 InvalidApiVersionParameter / NoRegisteredProviderFound for one the
resource provider does not have, arm.API_VERSIONS), the route (404 InvalidResourceType / 405), the
subscription (404 SubscriptionNotFound), the resource group (404 ResourceGroupNotFound), the drill
identity's roles (403 AuthorizationFailed, authorization.py), then the request-class token bucket of
the world (429 with Retry-After, request-limits-and-throttling), then the resource provider's handler.
A list (a GET of a collection answering `{"value": [...]}`) leaves in pages of `page_size` items with
a `nextLink`, as every x-ms-pageable list of the specs does.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter

from aiohttp import web
from yarl import URL

from drsim.cloud.arm import RequestClass
from drsim.cloud.emulator.arm import (
    MAX_BODY_BYTES,
    SKIP_TOKEN,
    ArmError,
    ErrorCode,
    Pager,
    Route,
    Router,
    arm_time,
    check_api_version,
    from_provider_error,
)
from drsim.cloud.emulator.authorization import Authorization, RoleAssignment, default_assignments
from drsim.cloud.emulator.backup import BackupService
from drsim.cloud.emulator.compute import ComputeService
from drsim.cloud.emulator.network import NetworkService
from drsim.cloud.emulator.operations import OperationRegistry
from drsim.cloud.emulator.resources import ResourcesService
from drsim.cloud.emulator.siterecovery import SiteRecoveryService
from drsim.cloud.emulator.state import EmulatorState
from drsim.cloud.emulator.storage import StorageService
from drsim.cloud.emulator.world import ArmSettings, EmulatedWorld
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

    def __init__(
        self,
        world: EmulatedWorld,
        *,
        speed: float,
        seed: int = 0,
        body_timeout: float = BODY_TIMEOUT_S,
        settings: ArmSettings | None = None,
    ) -> None:
        self.world = world
        self.speed = speed
        self.body_timeout = body_timeout
        self.settings = settings or ArmSettings()
        self.pager = Pager(self.settings.page_size)
        self.state = EmulatorState(world, self.settings)
        self.subscription_id = self.state.subscription_id
        self.operations = OperationRegistry(world.now, speed=speed, seed=seed)
        self.throttled = 0
        """How many requests were answered 429 (for tests of clients that must honour Retry-After)."""
        self.requests: Counter[RequestClass] = Counter()
        """Requests that reached a route, by ARM request class (reads, writes, deletes): a read-only
        client makes no write or delete."""
        self.authorization = Authorization(self._default_assignments())
        self.router = Router()
        self.resources = ResourcesService(self)
        self.compute = ComputeService(self)
        self.network = NetworkService(self)
        self.backup = BackupService(self)
        self.site_recovery = SiteRecoveryService(self)
        self.storage = StorageService(self)
        for service in (self.resources, self.compute, self.network, self.backup, self.site_recovery, self.storage):
            service.register(self.router)
        self.authorization.register(self.router)

    def _default_assignments(self) -> list[RoleAssignment]:
        inventory = self.world.inventory
        protected = inventory.protected_items()
        replicated = inventory.replicated_items()
        return default_assignments(
            self.subscription_id,
            writable_groups=self.state.writable_groups,
            backup_vaults=sorted({i.vault.id for i in protected}),
            site_recovery_vaults=sorted({i.vault.id for i in replicated}),
            protected_vms=sorted({i.vm_id for i in protected}),
            staging_accounts=[a.id for a in self.state.storage_accounts.values()],
            cross_region_restore=any(v.cross_region_restore for v in inventory.vaults()),
        )

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
        version = request.query.get("api-version")
        if not version:
            raise ArmError(
                400, ErrorCode.MISSING_API_VERSION, "The api-version query parameter (?api-version=) is required for all requests."
            )
        check_api_version(request.path, version, location=self.state.arm_region, locations=self.state.regions)
        route, params = self.router.resolve(request.method, request.path)
        subscription = params.get("subscription")
        if subscription is not None and subscription.lower() != self.subscription_id.lower():
            raise ArmError(404, ErrorCode.SUBSCRIPTION_NOT_FOUND, f"The subscription '{subscription}' could not be found.")
        group = params.get(GROUP_PARAM)
        if group is not None and await self.state.find_resource_group(group) is None:
            raise ArmError(404, ErrorCode.RESOURCE_GROUP_NOT_FOUND, f"Resource group '{group}' could not be found.")
        self.authorization.check(request.method, request.path)
        self.requests[route.request_class] += 1
        throttle, region = self.state.throttle, self.state.arm_region
        throttle.admit(region, route.request_class, self.world.now(), request.headers.get("x-ms-client-request-id"))
        answer = await route.handler(request, params)
        if isinstance(answer, web.Response) and self._is_list(request, route, answer):
            answer = self._paged(request, answer)
        remaining = throttle.remaining(region, route.request_class, self.world.now())
        if remaining is not None:
            # ARM reports what is left of the bucket (request-limits-and-throttling).
            answer.headers[f"x-ms-ratelimit-remaining-subscription-{route.request_class.value}s"] = str(int(remaining))
        return answer

    @staticmethod
    def _is_list(request: web.Request, route: Route, answer: web.StreamResponse) -> bool:
        """A GET of a collection (its template ends on a type, not a `{name}`) answered 200 with JSON."""
        return (
            request.method == "GET"
            and not route.template.rstrip("/").endswith("}")
            and isinstance(answer, web.Response)
            and answer.status == 200
            and answer.content_type == "application/json"
        )

    def _paged(self, request: web.Request, answer: web.Response) -> web.Response:
        assert answer.body is not None and isinstance(answer.body, bytes | bytearray)
        body = json.loads(answer.body)
        if not isinstance(body, dict) or not isinstance(body.get("value"), list) or "nextLink" in body:
            return answer
        here = URL(str(request.url))

        def next_url(token: str) -> str:
            return str(here.update_query({SKIP_TOKEN: token}))

        paged = self.pager.page(body, skip=request.query.get(SKIP_TOKEN), next_url=next_url)
        response = web.json_response(paged, status=answer.status)
        for name, value in answer.headers.items():
            if name.lower() not in ("content-length", "content-type"):
                response.headers[name] = value
        return response

    async def close(self) -> None:
        await self.operations.close()
        self.state.release()
