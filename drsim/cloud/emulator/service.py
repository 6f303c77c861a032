"""What every resource provider of the emulator shares: the world, its state, and how an LRO is answered."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from aiohttp import web

from drsim.cloud.arm import id_key
from drsim.cloud.emulator.arm import ArmError, ErrorCode, JsonObject, Router
from drsim.cloud.emulator.operations import AsyncOperation, Outcome
from drsim.cloud.emulator.state import PendingResource, Provisioning

if TYPE_CHECKING:
    from drsim.cloud.emulator.app import Emulator


def not_found(resource_type: str, name: str, group: str) -> ArmError:
    """ARM's 404 for a missing resource (ARM RPC contract: code ResourceNotFound)."""
    return ArmError(
        404,
        ErrorCode.RESOURCE_NOT_FOUND,
        f"The Resource '{resource_type}/{name}' under resource group '{group}' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def no_content() -> web.Response:
    return web.Response(status=204)


class ResourceProviderService(ABC):
    """Base of the Compute, Network, Recovery Services and Resources services."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.state = emulator.state
        self.world = emulator.world
        self.operations = emulator.operations

    @abstractmethod
    def register(self, router: Router) -> None:
        """Add this service's routes to the router."""

    @property
    def subscription(self) -> str:
        return self.state.subscription_id

    async def start(
        self,
        work: Coroutine[Any, Any, Outcome | None],
        *,
        name: str,
        status_path: Callable[[str], str],
        result_path: Callable[[str], str] | None,
        pending: tuple[str, JsonObject, Provisioning] | None = None,
    ) -> AsyncOperation:
        """Start `work` as an operation; while it runs, GET of `pending`'s resource shows its body and state."""
        key = id_key(pending[0]) if pending is not None else None
        if pending is not None:
            try:
                self.ensure_idle(pending[0], name)
            except ArmError:
                work.close()  # never started: leave no un-awaited coroutine behind
                raise
        if pending is not None and key is not None:
            self.state.pending[key] = PendingResource(pending[1], pending[2])

        async def tracked() -> Outcome | None:
            try:
                return await work
            finally:
                if key is not None:
                    self.state.pending.pop(key, None)

        return await self.operations.start(tracked(), name=name, status_path=status_path, result_path=result_path)

    def ensure_idle(self, resource_id: str, operation: str) -> None:
        """409 while another operation runs on the resource (ARM: AnotherOperationInProgress)."""
        current = self.state.pending.get(id_key(resource_id))
        if current is not None:
            raise ArmError(
                409,
                ErrorCode.ANOTHER_OPERATION_IN_PROGRESS,
                f"Operation '{operation}' is not allowed: the resource is {current.state.value.lower()} "
                "(another operation is in progress).",
            )

    def pending_body(self, resource_id: str) -> JsonObject | None:
        """The body of a resource an operation is creating, updating or deleting, with that state."""
        pending = self.state.pending.get(id_key(resource_id))
        if pending is None:
            return None
        body = dict(pending.body)
        body["properties"] = {**body.get("properties", {}), "provisioningState": pending.state.value}
        return body
