"""Cleanup: delete exactly what the run created, then list what still carries its tag.

Backup restores still running (the run stopped following them: a step timeout, Ctrl-C, a failure
elsewhere) are waited for, and what they created is deleted with the rest. Site Recovery test
failovers end with 'cleanup test failover' (which deletes the test VMs; A2A FAQ), every one the run
started (recorded when the cloud accepted it), after its job ends;
the rest is deleted kind by kind (VMs before the disks they hold, networks last), each wave in
parallel within the drill's concurrency. A final sweep deletes anything else tagged with the run id
(for instance a resource whose creation was cut short by an abort), and whatever is still tagged
after that is a leftover: it makes the run's status `error` and is listed with its cost per day.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from drsim.clock import Clock
from drsim.cloud.api import Job, JobStatus, ResourceKind, TaggedResource
from drsim.engine.actions import JOB_POLL_S, CloudActions, RestoreRecord, TestFailoverRecord
from drsim.engine.retry import call_with_retries
from drsim.engine.runtime import Waitable, current_runtime
from drsim.errors import ProviderError
from drsim.measure.events import (
    CleanupFinished,
    CleanupStarted,
    CleanupTestFailover,
    Event,
    LeftoverResource,
    ResourceDeleted,
)
from drsim.model.types import CleanupPolicy, CleanupStatus
from drsim.records import quick_init

DELETE_ORDER = (
    ResourceKind.VM,
    ResourceKind.NIC,
    ResourceKind.DISK,
    ResourceKind.SNAPSHOT,
    ResourceKind.IMAGE,
    ResourceKind.NETWORK,
    ResourceKind.NSG,
)
"""VMs first (they hold disks and NICs), then what they held, networks and their NSGs last."""
DELETE_ATTEMPTS = 5
_T = TypeVar("_T")


@quick_init
@dataclass(frozen=True, slots=True)
class _Target:
    id: str
    kind: ResourceKind
    name: str
    region: str


class Cleanup:
    """Deletes a run's resources according to the runbook's cleanup policy."""

    def __init__(
        self,
        actions: CloudActions,
        *,
        clock: Clock,
        emit: Callable[[Event], None],
        concurrency: int,
        rng: random.Random,
        deleted: Iterable[str] = (),
        failovers_cleaned: Iterable[str] = (),
    ) -> None:
        self.actions = actions
        self.provider = actions.provider
        self.clock = clock
        self.emit = emit
        self.concurrency = concurrency
        self.rng = rng
        # A resumed run's cleanup knows what its journal says was deleted, and whose test failover was cleaned up.
        self.deleted: set[str] = set(deleted)
        self.failovers_cleaned: set[str] = set(failovers_cleaned)
        self.stopped: str | None = None
        self._task: Waitable[CleanupFinished] | None = None

    def stop(self, reason: str) -> None:
        """Stop cleaning up (a second Ctrl-C), now or as soon as it starts: what is not deleted yet is
        reported as left behind."""
        if self.stopped is None:
            self.stopped = reason
            if self._task is not None:
                self._task.cancel()

    async def run(self, policy: CleanupPolicy, *, run_ok: bool) -> CleanupFinished:
        """Clean up by `policy`; stop() ends it early, with status incomplete and what is still there as leftovers."""
        if self.stopped is not None:
            return self._stopped_early()
        inner = self._task = current_runtime().spawn(self._run(policy, run_ok=run_ok), name="cleanup")
        try:
            finished: CleanupFinished = await inner
            return finished
        except asyncio.CancelledError:
            if self.stopped is None or not inner.cancelled():  # cancelled from outside, not stopped
                raise
            return self._stopped_early()
        finally:
            self._task = None

    def _stopped_early(self) -> CleanupFinished:
        left = tuple(
            LeftoverResource(c.id, c.resource_kind, c.name, c.region, c.cost_per_day or 0.0)
            for c in self.actions.created.values()
            if c.id not in self.deleted
        )
        finished = CleanupFinished(at=self.clock.now(), status=CleanupStatus.INCOMPLETE, leftovers=left)
        self.emit(finished)
        return finished

    async def _run(self, policy: CleanupPolicy, *, run_ok: bool) -> CleanupFinished:
        created = list(self.actions.created.values())
        self.emit(CleanupStarted(at=self.clock.now(), policy=policy, resources=len(created)))
        if policy is CleanupPolicy.NEVER or (policy is CleanupPolicy.ON_SUCCESS and not run_ok):
            for record in list(self.actions.test_failovers.values()):
                if not record.ended:  # let it end, so that what it made is recorded, tagged and listed as left
                    with contextlib.suppress(ProviderError):  # else the listing below says what is known
                        await self._settle(record)
            left = await self._tagged()
            finished = CleanupFinished(at=self.clock.now(), status=CleanupStatus.SKIPPED, leftovers=tuple(_leftover(r) for r in left or ()))
            self.emit(finished)
            return finished
        for restore in [r for r in self.actions.restores.values() if not r.ended]:
            await self._end_restore(restore)
        for record in list(self.actions.test_failovers.values()):
            await self._end_test_failover(record)
        created = list(self.actions.created.values())  # with what the restores and test failovers just ended created
        targets = [_Target(c.id, c.resource_kind, c.name, c.region) for c in reversed(created) if c.id not in self.deleted]
        await self._delete_in_waves(targets)
        tagged = await self._tagged()
        if tagged:  # tagged with this run but never recorded (an interrupted creation): still ours
            await self._delete_in_waves(_Target(r.id, r.kind, r.name, r.region) for r in tagged if r.id not in self.deleted)
            tagged = await self._tagged()
        leftovers = tuple(_leftover(r) for r in tagged) if tagged is not None else ()
        status = CleanupStatus.DONE if tagged == [] else CleanupStatus.INCOMPLETE
        finished = CleanupFinished(at=self.clock.now(), status=status, leftovers=leftovers)
        self.emit(finished)
        return finished

    async def _end_restore(self, restore: RestoreRecord) -> None:
        """A restore the run stopped following (step timeout, Ctrl-C, a failure elsewhere): wait for its job
        to end, then record what it created, so that the waves below delete it. A job that cannot be read
        leaves what it made to the final listing (the provider tags it with the run id when it ends)."""
        try:
            job = await self._ended(await self._retrying(partial(self.provider.get_job, restore.job_id), f"job {restore.job_id}"))
        except ProviderError:
            return
        self.actions.record_restore(job)

    async def _end_test_failover(self, record: TestFailoverRecord) -> None:
        """'Cleanup test failover' for one started test failover; one that no task saw end (a step
        timeout, Ctrl-C, exhausted retries) is waited for first (Site Recovery allows no cleanup while
        it runs), and what its job created is recorded, so that it is listed, then deleted by the cleanup."""
        vm = record.vm
        if vm in self.failovers_cleaned:  # by the run before it was resumed
            return
        try:
            created = record.created if record.ended else await self._settle(record)
            job = await self._ended(
                await self._retrying(partial(self.provider.test_failover_cleanup, record.source_vm_id), f"test failover cleanup of {vm}")
            )
        except ProviderError as exc:
            self.emit(CleanupTestFailover(at=self.clock.now(), vm=vm, job="", succeeded=False, error=str(exc)))
            return
        ok = job.status is JobStatus.SUCCEEDED
        self.emit(CleanupTestFailover(at=self.clock.now(), vm=vm, job=job.id, succeeded=ok, error=job.error))
        if ok:
            for resource_id in created:
                made = self.actions.created.get(resource_id)
                if made is not None and resource_id not in self.deleted:
                    self._deleted(_Target(resource_id, made.resource_kind, made.name, made.region))

    async def _ended(self, job: Job) -> Job:
        """Read a job (each read retried by the policy) until it ends."""
        while not job.status.ended:
            await self.clock.sleep(JOB_POLL_S)
            job = await self._retrying(partial(self.provider.get_job, job.id), f"job {job.id}")
        return job

    async def _settle(self, record: TestFailoverRecord) -> tuple[str, ...]:
        """Wait for a test failover no task saw end; record (and so list) what its job created."""
        failover = await self._ended(await self._retrying(partial(self.provider.get_job, record.job_id), f"job {record.job_id}"))
        self.actions.record_job(record.task, failover, record.region)
        return failover.created

    async def _delete_in_waves(self, targets: Iterable[_Target]) -> None:
        by_kind: dict[str, list[_Target]] = {kind: [] for kind in DELETE_ORDER}
        others: list[_Target] = []
        for target in targets:
            wave_of = by_kind.get(target.kind)
            (others if wave_of is None else wave_of).append(target)
        for wave in [*by_kind.values(), others]:
            if wave:
                # `concurrency` deleters take the wave's targets in order: each starts the next
                # target as soon as its last one is gone (no task per target).
                targets = iter(wave)
                await current_runtime().gather(*(self._deleter(targets) for _ in range(min(self.concurrency, len(wave)))))

    async def _deleter(self, targets: Iterator[_Target]) -> None:
        delete = self.provider.delete
        for target in targets:
            try:
                try:
                    await delete(target.id)
                except ProviderError as refused:  # then retried by the policy (most deletions never are)
                    await self._retrying(partial(delete, target.id), f"delete {target.id}", refused=refused)
            except ProviderError:
                continue  # still tagged: the final listing reports it as a leftover
            self._deleted(target)

    def _deleted(self, target: _Target) -> None:
        self.deleted.add(target.id)
        # ResourceDeleted(at, id, resource_kind, name, region), positionally: one per deletion
        self.emit(ResourceDeleted(self.clock.now(), target.id, target.kind, target.name, target.region))

    async def _tagged(self) -> list[TaggedResource] | None:
        """Resources still tagged with the run id, or None when they cannot be listed."""
        try:
            found = await self._retrying(partial(self.provider.list_tagged, self.actions.run_id), "list the run's tagged resources")
        except ProviderError:
            return None
        return sorted(found, key=lambda r: r.id)

    async def _retrying(self, call: Callable[[], Awaitable[_T]], what: str, *, refused: ProviderError | None = None) -> _T:
        """One provider call, retried by the engine's policy (drsim.engine.retry), up to DELETE_ATTEMPTS
        failures; `refused`: it was made once already and failed so."""
        return await call_with_retries(
            call, what=what, attempts=DELETE_ATTEMPTS, clock=self.clock, rng=self.rng, emit=self.emit, refused=refused
        )


def _leftover(resource: TaggedResource) -> LeftoverResource:
    return LeftoverResource(resource.id, resource.kind, resource.name, resource.region, resource.cost_per_day)
