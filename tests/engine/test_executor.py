"""The executor on a scripted op runner: ordering, concurrency, retries, throttling, skips, abort."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drsim.clock import ScaledClock
from drsim.engine.clock import VirtualClock, run_virtual
from drsim.engine.executor import CheckFailure, Executor, StepPolicy, TaskState
from drsim.engine.runtime import current_runtime
from drsim.engine.taskgraph import Op, OpKind, Task, TaskGraph
from drsim.errors import NotFoundError, SafetyError, ThrottledError, TransientError
from drsim.measure.events import Event, FailureCategory, TaskFailed, TaskFinished, TaskRetrying, TaskSkipped, TaskStarted
from drsim.measure.result import TaskStatus
from drsim.model.types import Action

ORIGIN = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


def graph(steps: dict[str, tuple[list[str | None], list[str]]], ops: dict[str, tuple[Op, ...]] | None = None) -> TaskGraph:
    """steps: id -> (vms, needs). Each task has one slot-holding op unless `ops` gives the step's ops."""
    tasks, step_tasks = [], {}
    for step, (vms, _) in steps.items():
        own = []
        for vm in vms:
            task_ops = (ops or {}).get(step, (Op("work", OpKind.CREATE_VM),))
            own.append(Task(f"{step}/{vm}" if vm else step, step, Action.WAIT, vm, task_ops, len(tasks) + len(own)))
        tasks += own
        step_tasks[step] = tuple(own)
    return TaskGraph(
        tasks=tuple(tasks),
        steps=tuple(steps),
        step_needs={s: tuple(n) for s, (_, n) in steps.items()},
        step_tasks=step_tasks,
        allow_failure=frozenset(),
    )


@dataclass
class Script:
    """An op runner: each op sleeps `seconds["task:op"]` or `seconds[task]` (default 10) and raises the
    scripted errors first."""

    clock: VirtualClock
    seconds: dict[str, float] = field(default_factory=dict)
    errors: dict[str, list[Exception]] = field(default_factory=dict)
    log: list[tuple[float, str, str]] = field(default_factory=list)
    in_flight: int = 0
    peak: int = 0

    async def run_op(self, task: Task, op: Op, state: TaskState) -> None:
        now = (self.clock.now() - ORIGIN).total_seconds()
        self.log.append((now, task.id, op.id))
        queue = self.errors.get(f"{task.id}:{op.id}") or self.errors.get(task.id)
        if queue:
            raise queue.pop(0)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await self.clock.sleep(self.seconds.get(f"{task.id}:{op.id}", self.seconds.get(task.id, 10.0)))
        finally:
            self.in_flight -= 1


def execute(
    g: TaskGraph,
    script_kwargs: dict | None = None,
    *,
    concurrency: int = 50,
    policies: dict[str, StepPolicy] | None = None,
    abort_at: float | None = None,
) -> tuple[Executor, Script, list[Event]]:
    clock = VirtualClock(ORIGIN)
    script = Script(clock, **(script_kwargs or {}))
    events: list[Event] = []

    async def main() -> Executor:
        ex = Executor(g, script, clock=clock, emit=events.append, concurrency=concurrency, policies=policies or {}, rng=random.Random(1))
        if abort_at is not None:
            current_runtime().call_later(abort_at, ex.abort, "SIGTERM")
        await ex.run()
        return ex

    return run_virtual(main()), script, events


def at(event: Event) -> float:
    return (event.at - ORIGIN).total_seconds()


def test_tasks_start_when_their_needed_steps_finish() -> None:
    g = graph({"a": ([None], []), "b": (["x", "y"], ["a"]), "c": ([None], ["b"])})
    ex, script, events = execute(g, {"seconds": {"b/y": 30}})
    assert [(t, task) for t, task, _ in script.log] == [(0, "a"), (10, "b/x"), (10, "b/y"), (40, "c")]
    assert all(s.status is TaskStatus.SUCCEEDED for s in ex.states.values())
    assert [at(e) for e in events if isinstance(e, TaskFinished)] == [10, 20, 40, 50]


def test_concurrency_limits_operations_in_flight() -> None:
    g = graph({"clone": ([f"vm{i}" for i in range(10)], [])})
    _ex, script, events = execute(g, concurrency=3)
    assert script.peak == 3
    assert max(at(e) for e in events if isinstance(e, TaskFinished)) == 40  # ceil(10/3) waves of 10 s


def test_a_freed_slot_goes_to_a_task_already_under_way_before_a_new_one() -> None:
    # VM by VM: a VM whose snapshot is taken gets its disk before the next VM is snapshotted.
    ops = (Op("snap", OpKind.SNAPSHOT), Op("disk", OpKind.CREATE_DISK, ("snap",)))
    g = graph({"clone": (["vm1", "vm2", "vm3"], [])}, {"clone": ops})
    _ex, script, events = execute(g, concurrency=1)
    assert [(task, op) for _, task, op in script.log] == [
        ("clone/vm1", "snap"),
        ("clone/vm1", "disk"),
        ("clone/vm2", "snap"),
        ("clone/vm2", "disk"),
        ("clone/vm3", "snap"),
        ("clone/vm3", "disk"),
    ]
    assert [at(e) for e in events if isinstance(e, TaskFinished)] == [20, 40, 60]


def test_failed_task_skips_dependants_while_independent_branches_go_on() -> None:
    g = graph({"db": (["sql"], []), "app": (["app1"], ["db"]), "check": (["app1"], ["app"]), "web": (["web1"], [])})
    ex, _script, events = execute(g, {"errors": {"db/sql": [NotFoundError("vault region eastus2 is down")]}})
    assert ex.states["db/sql"].status is TaskStatus.FAILED
    assert ex.states["web/web1"].status is TaskStatus.SUCCEEDED
    skipped = {e.task: e.reason for e in events if isinstance(e, TaskSkipped)}
    assert skipped == {
        "app/app1": "needs step 'db', which failed (db/sql: vault region eastus2 is down)",
        "check/app1": "needs step 'app', which was skipped",
    }
    failed = next(e for e in events if isinstance(e, TaskFailed))
    assert failed.category is FailureCategory.RECOVERY and failed.attempts == 1


def test_allow_failure_lets_dependants_run() -> None:
    g = graph({"a": ([None], []), "b": ([None], ["a"])})
    g = TaskGraph(g.tasks, g.steps, g.step_needs, g.step_tasks, frozenset({"a"}))
    ex, _, events = execute(g, {"errors": {"a": [NotFoundError("gone")]}}, policies={"a": StepPolicy(allow_failure=True)})
    assert ex.states["b"].status is TaskStatus.SUCCEEDED
    assert next(e for e in events if isinstance(e, TaskFailed)).allowed


def test_transient_failures_are_retried_with_exponential_backoff() -> None:
    g = graph({"a": ([None], [])})
    errors = {"a": [TransientError("500"), TransientError("503")]}
    ex, _script, events = execute(g, {"errors": errors}, policies={"a": StepPolicy(retries=2)})
    assert ex.states["a"].status is TaskStatus.SUCCEEDED and ex.states["a"].attempts == 3
    retries = [e for e in events if isinstance(e, TaskRetrying)]
    assert [e.attempt for e in retries] == [1, 2]
    assert 15 <= retries[0].retry_in_s <= 30 and 30 <= retries[1].retry_in_s <= 60  # 30 s * 2^(n-1), jitter 0.5-1
    starts = [e.attempt for e in events if isinstance(e, TaskStarted)]
    assert starts == [1, 2, 3]


def test_retries_run_out_and_leave_an_execution_failure() -> None:
    g = graph({"a": ([None], [])})
    _ex, _, events = execute(g, {"errors": {"a": [TransientError("500")] * 3}}, policies={"a": StepPolicy(retries=1)})
    failed = next(e for e in events if isinstance(e, TaskFailed))
    assert (failed.attempts, failed.category) == (2, FailureCategory.EXECUTION)


def test_throttling_waits_retry_after_without_using_retries() -> None:
    g = graph({"a": ([None], [])})
    ex, script, _ = execute(g, {"errors": {"a": [ThrottledError("429", retry_after=17), ThrottledError("429", retry_after=5)]}})
    assert ex.states["a"].status is TaskStatus.SUCCEEDED and ex.states["a"].attempts == 1
    assert [t for t, _, _ in script.log] == [0, 17, 22]


def test_a_retry_resumes_after_the_operations_already_done() -> None:
    ops = (Op("s1", OpKind.SNAPSHOT), Op("s2", OpKind.SNAPSHOT, ("s1",)), Op("vm", OpKind.CREATE_VM, ("s2",)))
    g = graph({"clone": (["vm1"], [])}, {"clone": ops})
    _ex, script, _ = execute(g, {"errors": {"clone/vm1:s2": [TransientError("500")]}}, policies={"clone": StepPolicy(retries=1)})
    assert [op for _, _, op in script.log] == ["s1", "s2", "s2", "vm"]


def test_independent_operations_of_a_task_run_in_parallel() -> None:
    ops = (Op("d1", OpKind.CREATE_DISK), Op("d2", OpKind.CREATE_DISK), Op("vm", OpKind.CREATE_VM, ("d1", "d2")))
    g = graph({"clone": (["vm1"], [])}, {"clone": ops})
    _, script, _events = execute(g)
    assert script.log == [(0, "clone/vm1", "d1"), (0, "clone/vm1", "d2"), (10, "clone/vm1", "vm")]


def test_step_timeout_fails_the_task() -> None:
    g = graph({"a": ([None], []), "b": ([None], ["a"])})
    ex, _, events = execute(g, {"seconds": {"a": 7200}}, policies={"a": StepPolicy(timeout=timedelta(hours=1))})
    failed = next(e for e in events if isinstance(e, TaskFailed))
    assert failed.error == "step 'a' timed out after 1h" and at(failed) == 3600
    assert failed.category is FailureCategory.RECOVERY
    assert ex.states["b"].status is TaskStatus.SKIPPED


def test_the_timeout_bounds_each_attempt_and_a_timed_out_attempt_is_retried() -> None:
    ops = (Op("find", OpKind.FIND_SNAPSHOT), Op("restore", OpKind.CREATE_VM, ("find",)))
    g = graph({"a": ([None], [])}, {"a": ops})
    policies = {"a": StepPolicy(timeout=timedelta(hours=1), retries=2)}
    ex, script, events = execute(g, {"seconds": {"a:find": 600, "a:restore": 7200}}, policies=policies)
    retries = [e for e in events if isinstance(e, TaskRetrying)]
    assert [e.error for e in retries] == ["step 'a' timed out after 1h"] * 2
    assert ex.states["a"].status is TaskStatus.FAILED and ex.states["a"].attempts == 3
    # Each attempt has its own hour; a retry goes on after the operation already done.
    assert [op for _, _, op in script.log] == ["find", "restore", "restore", "restore"]
    starts = [at(e) for e in events if isinstance(e, TaskStarted)]
    assert starts[1] == pytest.approx(3600 + retries[0].retry_in_s)
    assert starts[2] == pytest.approx(starts[1] + 3600 + retries[1].retry_in_s)


def test_an_attempt_within_the_timeout_succeeds_after_a_timed_out_one() -> None:
    g = graph({"a": ([None], [])})
    policies = {"a": StepPolicy(timeout=timedelta(minutes=30), retries=1)}
    ex, _, _ = execute(g, {"seconds": {"a": 600}, "errors": {"a": [TransientError("500")]}}, policies=policies)
    assert ex.states["a"].status is TaskStatus.SUCCEEDED and ex.states["a"].attempts == 2


def test_abort_stops_new_work_and_fails_running_tasks() -> None:
    g = graph({"a": (["x", "y"], []), "b": ([None], ["a"])})
    ex, _, events = execute(g, {"seconds": {"a/x": 5, "a/y": 100}}, abort_at=50)
    assert ex.states["a/x"].status is TaskStatus.SUCCEEDED
    assert ex.states["a/y"].status is TaskStatus.FAILED
    assert ex.states["b"].status is TaskStatus.SKIPPED
    failed = next(e for e in events if isinstance(e, TaskFailed))
    assert failed.error == "run aborted: SIGTERM" and failed.category is FailureCategory.EXECUTION and at(failed) == 50


def test_a_safety_refusal_aborts_the_run() -> None:
    g = graph({"a": (["x", "y"], []), "b": ([None], [])})
    ex, _, _events = execute(g, {"errors": {"a/x": [SafetyError("network bubble is peered")]}, "seconds": {"a/y": 100, "b": 100}})
    assert ex.aborted is not None and "safety refusal in a/x" in ex.aborted
    assert {t: s.status for t, s in ex.states.items()} == {"a/x": TaskStatus.FAILED, "a/y": TaskStatus.FAILED, "b": TaskStatus.FAILED}


def test_a_check_failure_is_a_check_category() -> None:
    g = graph({"verify": (["sql"], [])})
    _, _, events = execute(g, {"errors": {"verify/sql": [CheckFailure("volume sqldata is inconsistent")]}})
    failed = next(e for e in events if isinstance(e, TaskFailed))
    assert (failed.category, failed.error) == (FailureCategory.CHECK, "volume sqldata is inconsistent")


def test_same_inputs_same_events() -> None:
    g = graph({"a": ([f"v{i}" for i in range(20)], []), "b": ([None], ["a"])})
    kwargs = {"errors": {f"a/v{i}": [TransientError("x")] for i in range(0, 20, 3)}}
    policies = {"a": StepPolicy(retries=1)}
    first = execute(g, {"errors": {k: list(v) for k, v in kwargs["errors"].items()}}, concurrency=4, policies=policies)[2]
    second = execute(g, {"errors": {k: list(v) for k, v in kwargs["errors"].items()}}, concurrency=4, policies=policies)[2]
    assert first == second


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 4), st.sets(st.integers(0, 20), max_size=3)), min_size=1, max_size=7),
    st.sets(st.integers(0, 40), max_size=4),
    st.integers(1, 5),
)
def test_executor_invariants_on_random_graphs(shape: list[tuple[int, set[int]]], failing: set[int], concurrency: int) -> None:
    """Whatever the graph: every task ends once; a task starts only after every task of the steps it
    needs succeeded; it is skipped exactly when one of them did not; the slot limit holds."""
    steps = {}
    for i, (width, needs) in enumerate(shape):
        steps[f"s{i}"] = ([f"v{j}" for j in range(width)], [f"s{n}" for n in sorted(needs) if n < i])
    g = graph(steps)
    errors = {t.id: [NotFoundError("gone")] for t in g.tasks if t.index in failing}
    ex, script, events = execute(g, {"errors": errors, "seconds": {t.id: 1 + t.index % 4 for t in g.tasks}}, concurrency=concurrency)
    ends = [e for e in events if isinstance(e, TaskFinished | TaskFailed | TaskSkipped)]
    assert sorted(e.task for e in ends) == sorted(t.id for t in g.tasks)
    assert script.peak <= concurrency
    end_at = {e.task: e.at for e in ends}
    started = {e.task: e.at for e in events if isinstance(e, TaskStarted)}
    for task in g.tasks:
        upstream = [u for need in g.step_needs[task.step] for u in g.step_tasks[need]]
        ok = all(ex.states[u.id].status is TaskStatus.SUCCEEDED for u in upstream)
        assert (ex.states[task.id].status is TaskStatus.SKIPPED) == (not ok)
        if task.id in started:
            assert all(end_at[u.id] <= started[task.id] for u in upstream)


def test_a_step_timeout_is_in_the_drill_clocks_time_on_a_scaled_clock() -> None:
    # On asyncio with a clock 3600x faster than the loop (as the ARM emulator's world time runs), a
    # 30-minute timeout fires after 30 minutes of that clock: half a real second, not half an hour.
    clock = ScaledClock(ORIGIN, 3600.0)
    g = graph({"a": ([None], [])})
    events: list[Event] = []

    class Slow:
        async def run_op(self, task: Task, op: Op, state: TaskState) -> None:
            await clock.sleep(7200)  # two hours of the clock: two real seconds

    async def main() -> None:
        ex = Executor(
            g,
            Slow(),
            clock=clock,
            emit=events.append,
            concurrency=1,
            policies={"a": StepPolicy(timeout=timedelta(minutes=30))},
            rng=random.Random(1),
        )
        await ex.run()

    started = time.monotonic()
    asyncio.run(main())
    failed = next(e for e in events if isinstance(e, TaskFailed))
    assert failed.error == "step 'a' timed out after 30m"
    assert time.monotonic() - started < 1.5  # 30 minutes of the clock: half a real second
