"""Long-running operations as ARM runs them: 201/202, Azure-AsyncOperation and Location, status polls.

A write that takes time answers at once with `Azure-AsyncOperation` (a status monitor answering
`{"status": "InProgress"|"Succeeded"|"Failed", "error": ...}`) and, for 202, `Location` (answering
202 until the operation ends, then the result). Both point at the emulator's own host and carry the
api-version, because the SDK's pollers use these URLs exactly as sent (azure-sdk-notes.md; ARM RPC
contract, async-api-reference.md). The world call behind an operation runs as an asyncio task on
the emulator's loop; errors it raises before its first wait are answered synchronously, as ARM
answers validation errors on the initial request.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from aiohttp import web

from drsim.cloud.emulator.arm import ArmError, ErrorCode, JsonObject, arm_time, from_provider_error
from drsim.errors import ProviderError

log = logging.getLogger(__name__)

POLL_WORLD_SECONDS = 10.0
"""How long a client should wait between polls of a running operation, in world time (Compute and
Network LROs commonly answer Retry-After: 10)."""


def poll_headers(speed: float) -> dict[str, str]:
    """The wait before the next poll, in real time: `Retry-After` in whole seconds, or, when the world
    runs so fast that it is under a second, `retry-after-ms` (which azure-core reads when no
    Retry-After is sent), so that polls keep pace with world time instead of lagging by seconds."""
    real = POLL_WORLD_SECONDS / speed
    if real >= 1:
        return {"Retry-After": str(round(real))}
    millis = str(max(1, round(real * 1000)))
    return {"retry-after-ms": millis, "x-ms-retry-after-ms": millis}


class OperationStatus(StrEnum):
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


@dataclass(frozen=True)
class Outcome:
    """What a finished operation hands back: the Location result body, a Backup job id, the target's id."""

    result: JsonObject | None = None
    job_id: str | None = None


@dataclass
class AsyncOperation:
    """One long-running operation and the two URLs that report on it."""

    id: str
    name: str
    status_path: str  # Azure-AsyncOperation
    result_path: str | None  # Location (202 answers); None when the operation is polled by status only
    started_at: datetime
    status: OperationStatus = OperationStatus.IN_PROGRESS
    ended_at: datetime | None = None
    error: ArmError | None = None
    outcome: Outcome = field(default_factory=Outcome)
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def done(self) -> bool:
        return self.status is not OperationStatus.IN_PROGRESS

    def status_body(self) -> JsonObject:
        """The Azure-AsyncOperation answer: ARM's operation resource."""
        body: JsonObject = {"id": self.status_path, "name": self.id, "status": str(self.status), "startTime": arm_time(self.started_at)}
        if self.ended_at is not None:
            body["endTime"] = arm_time(self.ended_at)
        if self.error is not None:
            body["error"] = self.error.body()["error"]
        if self.outcome.job_id is not None:
            # Backup's OperationStatus names the job it created (OperationStatusJobExtendedInfo).
            body["properties"] = {"objectType": "OperationStatusJobExtendedInfo", "jobId": self.outcome.job_id}
        elif self.outcome.result is not None:
            body["properties"] = {"output": self.outcome.result}
        return body


def _wire_url(request: web.Request, path: str) -> str:
    api_version = request.query.get("api-version", "")
    return f"{request.scheme}://{request.host}{path}?api-version={api_version}"


class OperationRegistry:
    """Starts world calls as operations, remembers them, and answers their status and result polls."""

    def __init__(self, now: Callable[[], datetime], *, speed: float, seed: int = 0) -> None:
        self._now = now
        self._speed = speed
        self._rng = random.Random(seed)
        self._operations: dict[str, AsyncOperation] = {}

    def new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    async def start(
        self,
        work: Coroutine[Any, Any, Outcome | None],
        *,
        name: str,
        status_path: Callable[[str], str],
        result_path: Callable[[str], str] | None = None,
    ) -> AsyncOperation:
        """Run `work` as an operation; raise its ArmError now if it fails before it first waits."""
        op_id = self.new_id()
        operation = AsyncOperation(
            id=op_id,
            name=name,
            status_path=status_path(op_id),
            result_path=result_path(op_id) if result_path else None,
            started_at=self._now(),
        )
        operation.task = asyncio.create_task(self._run(operation, work), name=f"arm-operation-{name}-{op_id}")
        # One turn of the loop runs the task up to its first wait (the task's step is queued before
        # ours): what fails before then is a synchronous answer, and no timer can fire in between.
        await asyncio.sleep(0)
        if operation.status is OperationStatus.FAILED and operation.error is not None:
            raise operation.error
        self._operations[op_id] = operation
        return operation

    async def _run(self, operation: AsyncOperation, work: Coroutine[Any, Any, Outcome | None]) -> None:
        try:
            outcome = await work
        except ArmError as exc:
            operation.error, operation.status = exc, OperationStatus.FAILED
        except ProviderError as exc:
            operation.error, operation.status = from_provider_error(exc, speed=self._speed), OperationStatus.FAILED
        except asyncio.CancelledError:
            operation.error = ArmError(500, ErrorCode.INTERNAL_ERROR, "the emulator stopped before the operation ended")
            operation.status = OperationStatus.FAILED
            raise
        except Exception as exc:  # an emulator or world bug: report it as ARM does, keep serving
            log.exception("operation %s (%s) failed unexpectedly", operation.id, operation.name)
            operation.error = ArmError(500, ErrorCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
            operation.status = OperationStatus.FAILED
        else:
            operation.outcome = outcome or Outcome()
            operation.status = OperationStatus.SUCCEEDED
        finally:
            operation.ended_at = self._now()

    def get(self, op_id: str) -> AsyncOperation:
        found = self._operations.get(op_id.lower())
        if found is None:
            raise ArmError(404, ErrorCode.RESOURCE_NOT_FOUND, f"Operation '{op_id}' was not found.")
        return found

    def answer(self, request: web.Request, operation: AsyncOperation, *, status: int, body: JsonObject | None = None) -> web.Response:
        """The first answer of a long-running request: 201 or 202 with the polling headers."""
        headers = {"Azure-AsyncOperation": _wire_url(request, operation.status_path), **poll_headers(self._speed)}
        if operation.result_path is not None:
            headers["Location"] = _wire_url(request, operation.result_path)
        if body is None:
            return web.Response(status=status, headers=headers)
        return web.json_response(body, status=status, headers=headers)

    def status_response(self, op_id: str) -> web.Response:
        operation = self.get(op_id)
        headers = {} if operation.done else poll_headers(self._speed)
        return web.json_response(operation.status_body(), headers=headers)

    def result_response(self, request: web.Request, op_id: str) -> web.Response:
        """The Location poll: 202 while running, the error when failed, else 200 with the result (or 204)."""
        operation = self.get(op_id)
        if not operation.done:
            return web.Response(status=202, headers={"Location": _wire_url(request, request.path), **poll_headers(self._speed)})
        if operation.error is not None:
            return operation.error.response()
        if operation.outcome.result is None:
            return web.Response(status=204)
        return web.json_response(operation.outcome.result)

    async def close(self) -> None:
        """Cancel operations still running (the emulator is stopping)."""
        tasks = [op.task for op in self._operations.values() if op.task is not None and not op.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
