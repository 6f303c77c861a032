"""The executor: runs a task graph, each task as soon as the steps it needs are done.

It knows nothing of clouds: an `OpRunner` carries out each operation. The executor adds what every
drill needs around it: a limit on long-running operations in flight (Drill.concurrency), per-step
timeouts, retries with exponential backoff in the loop's time, ARM throttling honoured through its
retry-after, dependants of a failed task skipped with the reason while independent branches go on,
and an abort that stops new work (Ctrl-C, SIGTERM, a safety refusal) so that cleanup can run.
"""

from __future__ import annotations

import asyncio
import collections
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Protocol

from drsim.clock import Clock
from drsim.cloud.api import cloud_spans, collect_cloud_spans, stop_collecting_cloud_spans
from drsim.engine.resume import ResumedTask
from drsim.engine.retry import ThrottledCall, backoff_delay
from drsim.engine.runtime import AsyncioRuntime, Runtime, Waitable, current_runtime
from drsim.engine.taskgraph import SLOT_OPS, Op, Task, TaskGraph
from drsim.errors import AbortedError, ProviderError, SafetyError, ThrottledError, TransientError
from drsim.measure.events import (
    Event,
    FailureCategory,
    OperationFinished,
    RecoveryPointRef,
    RunAborted,
    TaskFailed,
    TaskFinished,
    TaskRetrying,
    TaskSkipped,
    TaskStarted,
)
from drsim.measure.result import TaskStatus
from drsim.model.types import format_duration


class CheckFailure(Exception):
    """A check found the recovered VM or application unhealthy (a drill finding, not an error)."""


class OpRunner(Protocol):
    """Carries out one operation of one task (the cloud actions implement it)."""

    def run_op(self, task: Task, op: Op, state: TaskState) -> Awaitable[None]:
        """The operation's coroutine (an `async def run_op` serves as well)."""
        ...


@dataclass
class TaskState:
    """What a task has done so far: the operations finished survive a retry, which resumes after them."""

    task: Task
    done: set[str] = field(default_factory=set)
    attempts: int = 0
    recovery_point: RecoveryPointRef | None = None
    recovered_vm: str | None = None
    status: TaskStatus | None = None
    error: str | None = None


@dataclass(frozen=True)
class StepPolicy:
    """The runbook's knobs for one step."""

    timeout: timedelta | None = None
    retries: int = 0
    allow_failure: bool = False


def classify(exc: BaseException) -> FailureCategory:
    """Whether a failure is a drill finding (exit 1) or means the drill could not be carried out (exit 3)."""
    if isinstance(exc, CheckFailure):
        return FailureCategory.CHECK
    if isinstance(exc, TransientError | SafetyError | AbortedError | asyncio.CancelledError):
        return FailureCategory.EXECUTION
    if isinstance(exc, ProviderError | TimeoutError):  # no point, region down, too slow, no capacity
        return FailureCategory.RECOVERY
    return FailureCategory.EXECUTION


class StepTimeout(TimeoutError):
    """An attempt at a task ran longer than its step's timeout."""


def describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, ProviderError | SafetyError | CheckFailure | AbortedError | StepTimeout):
        return text
    return f"{type(exc).__name__}: {text}"


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, ProviderError) and exc.retryable


class SlotLimit:
    """At most `slots` operations in flight. A free slot is taken at once; a freed one goes to the first
    waiting operation of a task that has already done some of its work, else to the first waiting one
    (first come, first served within each): recovery goes on VM by VM, rather than every VM's first
    operation before any VM's second, which would leave every VM half-recovered until the end."""

    __slots__ = ("_continuing", "_runtime", "_waiting", "free")

    def __init__(self, slots: int, runtime: Runtime | None = None) -> None:
        self.free = slots
        self._runtime = runtime
        self._waiting: collections.deque[Waitable[None]] = collections.deque()
        self._continuing: collections.deque[Waitable[None]] = collections.deque()

    def take(self, continuing: bool = False) -> Waitable[None] | None:
        """None when a slot was taken at once, else a future that resolves when one is handed over."""
        if self.free > 0:
            self.free -= 1
            return None
        if self._runtime is None:
            self._runtime = current_runtime()
        handed: Waitable[None] = self._runtime.future()
        (self._continuing if continuing else self._waiting).append(handed)
        return handed

    def give_back(self) -> None:
        if self._continuing and self._hand_to(self._continuing):
            return
        if self._waiting:
            # Only new operations wait: let the task that gave the slot back ask for its next operation
            # first (it does so before it next yields), then hand the slot over.
            assert self._runtime is not None
            self._runtime.call_soon(self._hand_over)
            return
        self.free += 1

    def _hand_over(self) -> None:
        if not (self._hand_to(self._continuing) or self._hand_to(self._waiting)):
            self.free += 1

    @staticmethod
    def _hand_to(queue: collections.deque[Waitable[None]]) -> bool:
        while queue:
            handed = queue.popleft()
            if not handed.done():  # a cancelled waiter gave up its place
                handed.set_result(None)
                return True
        return False


class Executor:
    """Runs every task of a graph once; emits task events; leaves the per-task states behind."""

    def __init__(
        self,
        graph: TaskGraph,
        runner: OpRunner,
        *,
        clock: Clock,
        emit: Callable[[Event], None],
        concurrency: int,
        policies: Mapping[str, StepPolicy],
        rng: random.Random,
        runtime: Runtime | None = None,
        journal_operations: bool = False,
        resumed: Mapping[str, ResumedTask] | None = None,
    ) -> None:
        """`journal_operations`: emit operation.finished for every operation that succeeds (real-time runs)."""
        self.graph = graph
        # A resumed run (against a real cloud): tasks that ended keep their journaled outcome and do not run
        # again; one that was in an attempt goes on with that attempt (its TaskStarted is journaled already).
        self.resumed: Mapping[str, ResumedTask] = resumed or {}
        self.runner = runner
        self.clock = clock
        self.emit = emit
        self.policies = policies
        self.rng = rng
        self.runtime = runtime or current_runtime()
        self.slots = SlotLimit(concurrency, self.runtime)
        self.states: dict[str, TaskState] = {t.id: TaskState(t) for t in graph.tasks}
        self.op_seconds: dict[tuple[str, str], float] = {}
        self.journal_operations = journal_operations
        # What the cloud reports of its operations is collected per asyncio task (each has its own
        # context); the virtual kernel's coroutines share one, and the simulator reports nothing anyway.
        self.collect_spans = journal_operations and isinstance(self.runtime, AsyncioRuntime)
        self._waiting: dict[str, set[str]] = {s: set(graph.step_needs[s]) for s in graph.steps}
        self._dependants: dict[str, list[str]] = {s: [] for s in graph.steps}
        for step in graph.steps:
            for need in graph.step_needs[step]:
                self._dependants[need].append(step)
        self._left = {s: len(graph.step_tasks[s]) for s in graph.steps}
        self._running: dict[str, Waitable[None]] = {}
        self._finished: Waitable[None] = self.runtime.future()
        self._open = sum(self._left.values())
        self._blocked: dict[str, str] = {}  # steps whose tasks are skipped, and why
        self._closed: set[str] = set()
        self.aborted: str | None = None

    # ------------------------------------------------------------------------------- scheduling

    async def run(self) -> None:
        """Run until every task has succeeded, failed or been skipped (or the run was aborted)."""
        if self._open == 0:
            return
        # The steps ready now, listed before any starts: starting one may settle its tasks at once (a step
        # without tasks; a resumed run's ended tasks) and start its dependants from there.
        for step in [s for s in self.graph.steps if not self._waiting[s]]:
            self._start_step(step)
        await self._finished

    def abort(self, reason: str) -> None:
        """Stop new work: pending tasks are skipped, running ones cancelled (they record a failure)."""
        if self.aborted is not None:
            return
        self.aborted = reason
        self.emit(RunAborted(at=self.clock.now(), reason=reason))
        for step in self.graph.steps:
            for task in self.graph.step_tasks[step]:
                if self.states[task.id].status is None and task.id not in self._running:
                    self._skip(task, f"run aborted: {reason}")
        for running in list(self._running.values()):
            running.cancel()

    def _start_step(self, step: str) -> None:
        tasks = self.graph.step_tasks[step]
        spawn = self.runtime.spawn
        resumed = self.resumed
        for task in tasks:
            if resumed and self._ended_before(task):
                continue
            if self.aborted is not None:
                self._skip(task, f"run aborted: {self.aborted}")
            else:
                running = spawn(self._run_task(task), name=task.id)
                running.add_done_callback(partial(self._cancelled_before_start, task))
                self._running[task.id] = running
        if not tasks:
            self._step_done(step)

    def _cancelled_before_start(self, task: Task, _: object) -> None:
        """A task cancelled before its first step never ran its own handler: record its failure here."""
        if self.states[task.id].status is None:
            policy = self.policies.get(task.step, _NO_POLICY)
            self._fail(task, self.states[task.id], AbortedError(f"run aborted: {self.aborted or 'cancelled'}"), policy)

    def _settle(self, task: Task) -> None:
        self._running.pop(task.id, None)
        self._open -= 1
        left = self._left[task.step] - 1
        self._left[task.step] = left
        if left == 0:
            self._step_done(task.step)
        if self._open == 0 and not self._finished.done():
            self._finished.set_result(None)

    def _failure_of(self, step: str) -> str | None:
        """Why a finished step stops its dependants, or None when they may go on."""
        if step in self._blocked:
            return "was skipped"
        if step in self.graph.allow_failure:
            return None
        for task in self.graph.step_tasks[step]:
            state = self.states[task.id]
            if state.status is not TaskStatus.SUCCEEDED:
                return f"failed ({task.label}: {state.error})"
        return None

    def _step_done(self, step: str) -> None:
        if step in self._closed:
            return
        self._closed.add(step)
        reason = self._failure_of(step)
        for dependant in self._dependants[step]:
            self._waiting[dependant].discard(step)
            if dependant in self._blocked:
                continue
            if reason is not None:
                self._blocked[dependant] = f"needs step '{step}', which {reason}"
                for task in self.graph.step_tasks[dependant]:
                    self._skip(task, self._blocked[dependant])
                if not self.graph.step_tasks[dependant]:
                    self._step_done(dependant)
            elif not self._waiting[dependant]:
                self._start_step(dependant)

    def _ended_before(self, task: Task) -> bool:
        """A task a resumed run's journal shows ended: its outcome as journaled, settled without running
        or journaling it again."""
        ended = self.resumed.get(task.id)
        state = self.states[task.id]
        if ended is None or ended.status is None or state.status is not None:
            return False
        state.status, state.attempts, state.error = ended.status, ended.attempts, ended.error
        state.recovery_point, state.recovered_vm = ended.recovery_point, ended.recovered_vm
        self._settle(task)
        return True

    def _skip(self, task: Task, reason: str) -> None:
        state = self.states[task.id]
        if state.status is not None or (self.resumed and self._ended_before(task)):
            return
        state.status, state.error = TaskStatus.SKIPPED, reason
        self.emit(TaskSkipped(at=self.clock.now(), task=task.id, step=task.step, action=task.action, vm=task.vm, reason=reason))
        self._settle(task)

    # ------------------------------------------------------------------------------ one task

    async def _run_task(self, task: Task) -> None:
        """Every attempt at a task (retried while its step allows), then its success or failure."""
        state = self.states[task.id]
        policy = self.policies.get(task.step, _NO_POLICY)
        emit, clock = self.emit, self.clock
        going_on = self.resumed.get(task.id) if self.resumed else None
        elapsed = 0.0  # of the attempt, before this process took it on
        if going_on is not None:
            state.attempts = going_on.attempts - 1 if going_on.in_attempt else going_on.attempts
        try:
            while True:
                state.attempts += 1
                if going_on is not None and going_on.in_attempt:
                    if going_on.started_at is not None:
                        elapsed = max(0.0, (clock.now() - going_on.started_at).total_seconds())
                    going_on = None  # its TaskStarted is in the journal
                else:
                    elapsed = 0.0
                    # TaskStarted(at, task, step, action, vm, attempt), positionally: one per task
                    emit(TaskStarted(clock.now(), task.id, task.step, task.action, task.vm, state.attempts))
                try:
                    if policy.timeout is None:
                        await _Attempt(self, task, state).run()
                    else:
                        await self._attempt_within(task, state, policy.timeout, elapsed)
                    break
                except Exception as exc:
                    if not (_retryable(exc) or isinstance(exc, StepTimeout)) or state.attempts > policy.retries:
                        raise
                    delay = backoff_delay(self.rng, state.attempts, exc)
                    emit(
                        TaskRetrying(
                            at=clock.now(),
                            task=task.id,
                            step=task.step,
                            action=task.action,
                            vm=task.vm,
                            attempt=state.attempts,
                            error=describe(exc),
                            retry_in_s=delay,
                        )
                    )
                    await clock.sleep(delay)
        except asyncio.CancelledError:
            self._fail(task, state, AbortedError(f"run aborted: {self.aborted or 'cancelled'}"), policy)
            return
        except Exception as exc:  # every failure becomes the task's failure: recorded, never dropped
            self._fail(task, state, exc, policy)
            if isinstance(exc, SafetyError):
                self.abort(f"safety refusal in {task.label}: {exc}")
            return
        state.status = TaskStatus.SUCCEEDED
        # TaskFinished(at, task, step, action, vm, attempts, recovery_point, recovered_vm), positionally: one per task
        emit(TaskFinished(clock.now(), task.id, task.step, task.action, task.vm, state.attempts, state.recovery_point, state.recovered_vm))
        self._settle(task)

    def _fail(self, task: Task, state: TaskState, exc: BaseException, policy: StepPolicy) -> None:
        state.status, state.error = TaskStatus.FAILED, describe(exc)
        self.emit(
            TaskFailed(
                at=self.clock.now(),
                task=task.id,
                step=task.step,
                action=task.action,
                vm=task.vm,
                attempts=max(state.attempts, 1),
                error=state.error,
                error_type=type(exc).__name__,
                category=classify(exc),
                allowed=policy.allow_failure,
            )
        )
        self._settle(task)

    async def _attempt_within(self, task: Task, state: TaskState, timeout: timedelta, elapsed: float = 0.0) -> None:
        """One attempt within the step's timeout (which bounds each attempt: a timed-out attempt is
        retried while retries remain); `elapsed`: seconds of it spent before a resume."""
        seconds = max(0.0, timeout.total_seconds() - elapsed)
        speed = getattr(self.clock, "speed", None)
        if isinstance(self.runtime, AsyncioRuntime) and isinstance(speed, int | float) and speed > 0:
            # A timeout is in the drill clock's time: on a clock that runs `speed` times faster than the
            # loop (the ARM emulator's world time), the loop's deadline comes that much sooner.
            seconds /= speed
        deadline = self.runtime.timeout(seconds)
        try:
            async with deadline:
                await _Attempt(self, task, state).run()
        except TimeoutError as exc:
            if deadline.expired():
                if task.action.is_manual:
                    verb = "declare" if task.action.value == "manual.declare" else "approve"
                    raise StepTimeout(
                        f"step '{task.step}' timed out after {format_duration(timeout)}: nobody came to {verb} it ({task.action.value})"
                    ) from exc
                raise StepTimeout(f"step '{task.step}' timed out after {format_duration(timeout)}") from exc
            raise


_NO_POLICY = StepPolicy()


class _Attempt:
    """One attempt at a task's operations, each started as soon as the operations it needs are done.

    A finished operation goes on, in the same coroutine, with the first operation it made ready (in
    the task's order) and starts any other as a new task, so a chain of operations costs no task of
    its own. Each operation holds a concurrency slot when its kind does, and a call ARM throttles is
    made again after its retry-after. After a failure nothing new starts; what runs finishes (and
    counts as done for a retry); the attempt then raises the first failure.
    """

    __slots__ = ("dependants", "drained", "executor", "failure", "first_ready", "spawned", "state", "task", "unmet")

    def __init__(self, executor: Executor, task: Task, state: TaskState) -> None:
        self.executor = executor
        self.task = task
        self.state = state
        done = state.done
        pending = [op for op in task.ops if op.id not in done] if done else task.ops
        unmet: dict[str, int] = {}
        dependants: dict[str, list[Op]] = {}
        first_ready = []
        for op in pending:
            count = 0
            for need in op.needs:
                if need not in done:
                    count += 1
                    if need in dependants:
                        dependants[need].append(op)
                    else:
                        dependants[need] = [op]
            unmet[op.id] = count
            if count == 0:
                first_ready.append(op)
        self.unmet = unmet
        self.dependants = dependants
        self.first_ready = first_ready
        self.spawned: set[Waitable[None]] = set()
        self.failure: BaseException | None = None
        self.drained: Waitable[None] | None = None

    async def run(self) -> None:
        ready = self.first_ready
        for op in ready[1:]:
            self._spawn(op)
        try:
            if ready:
                await self._chain(ready[0])
            if self.spawned:
                self.drained = self.executor.runtime.future()
                await self.drained
        finally:
            if self.spawned:  # cancelled: stop what still runs
                for running in self.spawned:
                    running.cancel()
                await self.executor.runtime.gather(*self.spawned, return_exceptions=True)
        if self.failure is not None:
            raise self.failure

    async def _timed(self, op: Op, running: Awaitable[None]) -> None:
        """Run an operation and journal operation.finished: its time on the run's clock (the provider's:
        world time against the emulator), not the loop's; and what the cloud itself reports its
        long-running operations and jobs took (their startTime to endTime), summed (None when it
        reported none). A throttled or failed operation is not journaled."""
        executor, task = self.executor, self.task
        begun = executor.clock.now()
        token = collect_cloud_spans() if executor.collect_spans else None
        try:
            await running
            reported = cloud_spans() if token is not None else None
        finally:
            if token is not None:
                stop_collecting_cloud_spans(token)
        ended = executor.clock.now()
        if executor.resumed:
            going_on = executor.resumed.get(task.id)
            if going_on is not None and op.id in going_on.ops_finished:
                return  # a resumed run made it again (idempotent): its journaled time is the one that counts
        seconds = round((ended - begun).total_seconds(), 3)
        cloud = round(sum((end - start).total_seconds() for start, end in reported.values()), 3) if reported else None
        executor.emit(OperationFinished(ended, task.id, task.step, task.action, task.vm, op.id, op.kind.value, begun, seconds, cloud))

    def _spawn(self, op: Op) -> None:
        running = self.executor.runtime.spawn(self._chain(op))
        self.spawned.add(running)
        running.add_done_callback(self._settled)

    def _settled(self, running: Waitable[None]) -> None:
        self.spawned.discard(running)
        if not self.spawned and self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    async def _chain(self, op: Op) -> None:
        task, state, unmet, executor = self.task, self.state, self.unmet, self.executor
        runner, slots, runtime, done = executor.runner, executor.slots, executor.runtime, state.done
        run_op, clock_time, op_seconds, dependants = runner.run_op, runtime.time, executor.op_seconds, self.dependants
        journaling = executor.journal_operations
        while True:
            # The operation, in a slot when it holds one; a throttled call is made again after its retry-after.
            holds = op.kind in SLOT_OPS
            try:
                if holds:
                    if slots.free > 0:  # SlotLimit.take, inline: a free slot is taken at once
                        slots.free -= 1
                    elif (handed := slots.take(bool(done))) is not None:
                        try:
                            await handed
                        except asyncio.CancelledError:
                            if not handed.cancelled():  # the slot came just as the wait was cancelled
                                slots.give_back()
                            raise
                try:
                    throttled: ThrottledCall | None = None
                    while True:
                        started = clock_time()
                        if journaling:  # a real-time run: the operation's times are journaled (_timed)
                            try:
                                await self._timed(op, run_op(task, op, state))
                            except ThrottledError as exc:
                                if throttled is None:
                                    throttled = ThrottledCall(executor.rng)
                                await executor.clock.sleep(throttled.delay(exc))
                                continue
                            op_seconds[task.id, op.id] = clock_time() - started
                            break
                        try:
                            await run_op(task, op, state)
                        except ThrottledError as exc:
                            if throttled is None:
                                throttled = ThrottledCall(executor.rng)
                            await executor.clock.sleep(throttled.delay(exc))
                            continue
                        op_seconds[task.id, op.id] = clock_time() - started
                        break
                finally:
                    if holds:
                        slots.give_back()
            except Exception as exc:
                if self.failure is None:
                    self.failure = exc
                return
            done.add(op.id)
            if self.failure is not None:
                return
            ready = None
            for dependant in dependants[op.id] if op.id in dependants else ():  # noqa: SIM401 - in the task's order
                left = unmet[dependant.id] - 1
                unmet[dependant.id] = left
                if left == 0:
                    if ready is None:
                        ready = dependant
                    else:
                        self._spawn(dependant)
            if ready is None:
                return
            op = ready
