"""What a resumed run against a real cloud knows from its journal.

A simulated run resumes by replaying its seed (drsim.drills: every journaled line is recomputed and
verified). A run against Azure cannot be replayed: the cloud went on while drsim was stopped, and what
the run made is still there. It resumes from what its journal says instead (`ResumeState.of`):
the tasks that ended keep their journaled outcome and are not run again; a task that was running is
run again from its first operation, each operation idempotent (deterministic names: a PUT of what the
run made answers it as it is), re-attaching to the restore or test failover job the cloud accepted for
it (operation.accepted); what was created, deleted and cleaned up is known, so that nothing is created
or journaled twice and cleanup finds everything of the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from drsim.measure.events import (
    AppMeasured,
    CleanupFinished,
    CleanupStarted,
    CleanupTestFailover,
    Event,
    GroupInstantChosen,
    HumanActed,
    OperationAccepted,
    OperationFinished,
    RecoveryPointRef,
    ResourceCreated,
    ResourceDeleted,
    RunFinished,
    RunStarted,
    TaskFailed,
    TaskFinished,
    TaskRetrying,
    TaskSkipped,
    TaskStarted,
)
from drsim.measure.result import TaskStatus


@dataclass
class ResumedTask:
    """A task as the journal left it. `status` None: it was running (`in_attempt`: its attempt number
    `attempts` had started and not ended; else it was waiting to retry after attempt `attempts`)."""

    status: TaskStatus | None = None
    attempts: int = 0
    in_attempt: bool = False
    started_at: datetime | None = None  # when its last attempt started
    recovery_point: RecoveryPointRef | None = None
    recovered_vm: str | None = None
    error: str | None = None
    ops_finished: set[str] = field(default_factory=set)  # operation.finished in its current attempt (made again, not journaled again)


@dataclass
class ResumeState:
    """A run's journal, read for resuming it against a real cloud."""

    events: tuple[Event, ...]
    started: RunStarted
    tasks: dict[str, ResumedTask] = field(default_factory=dict)
    created: dict[str, ResourceCreated] = field(default_factory=dict)  # by id, in creation order
    deleted: set[str] = field(default_factory=set)
    accepted: list[OperationAccepted] = field(default_factory=list)  # every operation the cloud accepted, in order
    current: dict[str, OperationAccepted] = field(default_factory=dict)  # by task: the job of its current attempt
    acted: dict[str, HumanActed] = field(default_factory=dict)  # by task: a person's answer in its current attempt
    group_instants: dict[str, datetime] = field(default_factory=dict)  # consistency group -> the multi-VM instant it fails over to
    cleanup_started: bool = False
    cleanup_finished: CleanupFinished | None = None
    failovers_cleaned: set[str] = field(default_factory=set)  # VMs whose test failover cleanup succeeded
    measured: dict[str, AppMeasured] = field(default_factory=dict)
    finished: RunFinished | None = None

    @staticmethod
    def of(events: Sequence[Event]) -> ResumeState:
        """Read a journal's events (the first is run.started)."""
        first = events[0]
        assert isinstance(first, RunStarted), "a journal begins with run.started"
        state = ResumeState(tuple(events), first)
        tasks = state.tasks
        for event in events:
            cls = event.__class__
            if cls is TaskStarted:
                assert isinstance(event, TaskStarted)
                task = tasks.setdefault(event.task, ResumedTask())
                task.attempts, task.in_attempt, task.started_at = event.attempt, True, event.at
                task.ops_finished = set()
                state.current.pop(event.task, None)
                state.acted.pop(event.task, None)
            elif cls is TaskRetrying:
                assert isinstance(event, TaskRetrying)
                task = tasks.setdefault(event.task, ResumedTask())
                task.attempts, task.in_attempt = event.attempt, False
                task.ops_finished = set()
                state.current.pop(event.task, None)
                state.acted.pop(event.task, None)
            elif cls is TaskFinished:
                assert isinstance(event, TaskFinished)
                task = tasks.setdefault(event.task, ResumedTask())
                task.status, task.attempts, task.in_attempt = TaskStatus.SUCCEEDED, event.attempts, False
                task.recovery_point, task.recovered_vm = event.recovery_point, event.recovered_vm
            elif cls is TaskFailed:
                assert isinstance(event, TaskFailed)
                task = tasks.setdefault(event.task, ResumedTask())
                task.status, task.attempts, task.in_attempt, task.error = TaskStatus.FAILED, event.attempts, False, event.error
            elif cls is TaskSkipped:
                assert isinstance(event, TaskSkipped)
                task = tasks.setdefault(event.task, ResumedTask())
                task.status, task.error = TaskStatus.SKIPPED, event.reason
            elif cls is ResourceCreated:
                assert isinstance(event, ResourceCreated)
                state.created.setdefault(event.id, event)
            elif cls is ResourceDeleted:
                assert isinstance(event, ResourceDeleted)
                state.deleted.add(event.id)
            elif cls is OperationAccepted:
                assert isinstance(event, OperationAccepted)
                state.accepted.append(event)
                state.current[event.task] = event
            elif cls is OperationFinished:
                assert isinstance(event, OperationFinished)
                tasks.setdefault(event.task, ResumedTask()).ops_finished.add(event.op)
            elif cls is GroupInstantChosen:  # journals before this event: the instant is chosen again (as it was)
                assert isinstance(event, GroupInstantChosen)
                state.group_instants.setdefault(event.group, event.instant)
            elif cls is HumanActed:  # a human.waiting without its human.acted is waited for again
                assert isinstance(event, HumanActed)
                state.acted[event.task] = event
            elif cls is CleanupStarted:
                state.cleanup_started = True
            elif cls is CleanupTestFailover:
                assert isinstance(event, CleanupTestFailover)
                if event.succeeded:
                    state.failovers_cleaned.add(event.vm)
            elif cls is CleanupFinished:
                assert isinstance(event, CleanupFinished)
                state.cleanup_finished = event
            elif cls is AppMeasured:
                assert isinstance(event, AppMeasured)
                state.measured[event.app] = event
            elif cls is RunFinished:
                assert isinstance(event, RunFinished)
                state.finished = event
        return state

    def ended(self, task_id: str) -> bool:
        task = self.tasks.get(task_id)
        return task is not None and task.status is not None

    def created_by(self, task_id: str) -> list[ResourceCreated]:
        return [c for c in self.created.values() if c.task == task_id]
