"""A run directory read back: result.json as the typed DrillResult, journal.jsonl as the engine's
typed events (drsim.measure.events), indexed for reporting.

The reporter reads only files, so `drsim report RUN_DIR` re-renders any run on any machine. Unlike
resuming (drsim.engine.journal), reporting does not stop at a broken hash chain: the report says
where it breaks. Anything unreadable is a DocumentError naming the file, line and field.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pydantic import ValidationError

from drsim.errors import DocumentError, Problem, UsageError
from drsim.measure.events import (
    AppMeasured,
    CheckKind,
    CheckResult,
    CleanupFinished,
    CleanupTestFailover,
    Event,
    EvidenceResealed,
    EvidenceResigned,
    PlanMade,
    PredictionMade,
    ResourceCreated,
    ResourceDeleted,
    RunAborted,
    RunAttested,
    RunFinished,
    RunStarted,
    TaskFailed,
    TaskFinished,
    TaskRetrying,
    TaskSkipped,
    event_from_dict,
    iso,
    parse_iso,
)
from drsim.measure.result import DrillResult
from drsim.records import json_line, quick_init
from drsim.report.evidence import JOURNAL, ChainCheck, ChainWalker, journal_lines

if TYPE_CHECKING:
    from drsim.measure.critical import MeasuredPath
    from drsim.measure.findings import Finding
    from drsim.measure.timeline import RunTimeline
    from drsim.report.view import CostView

RESULT = "result.json"

_E = TypeVar("_E", bound=Event)

TaskKey = tuple[str, str | None]
"""A task of the run as result.json names it: its step id and its VM (None for steps on no VM)."""


@quick_init  # one a task or resource: tens of thousands in a large drill
@dataclass(frozen=True)
class RecoveryPointUse:
    """The recovery point one task restored from or failed over to."""

    step: str
    vm: str | None
    id: str
    time: datetime
    type: str
    tier: str | None
    region: str


@quick_init  # one a task or resource: tens of thousands in a large drill
@dataclass(frozen=True)
class TaskFailure:
    """A failed attempt: retried (a later attempt may have succeeded) or final."""

    step: str
    vm: str | None
    attempt: int
    error: str
    at: datetime
    final: bool  # the task failed for good (task.failed), not just this attempt (task.retrying)
    retried_ok: bool  # a later attempt of the same task succeeded


@quick_init  # one a task or resource: tens of thousands in a large drill
@dataclass(frozen=True)
class ResourceLife:
    """A resource the drill created, from resource.created to resource.deleted (None: still there)."""

    id: str
    kind: str
    name: str
    region: str
    created_at: datetime
    deleted_at: datetime | None
    cost_per_day: float | None  # when the engine journals the price


@dataclass(frozen=True)
class RecordedRun:
    """Everything a report shows, read from one run directory."""

    run_dir: Path
    result: DrillResult
    result_sha256: str
    events: tuple[Event, ...]
    chain: ChainCheck
    torn_tail: bool  # the journal ends in a line cut short (a killed run); it is ignored
    started: RunStarted | None
    plan: PlanMade | None
    measured: dict[str, AppMeasured]
    points: tuple[RecoveryPointUse, ...]
    failures: tuple[TaskFailure, ...]
    skipped: tuple[TaskSkipped, ...]
    checks: tuple[CheckResult, ...]
    resources: tuple[ResourceLife, ...]
    cleanup: CleanupFinished | None
    failover_cleanups: tuple[CleanupTestFailover, ...]
    aborted: RunAborted | None
    finished: RunFinished | None
    reseals: tuple[EvidenceResealed, ...] = ()  # forced re-seals after the run, kept out of `events`
    resigns: tuple[EvidenceResigned, ...] = ()  # signatures replaced with --re-sign after the run, kept out of `events`
    attestations: tuple[RunAttested, ...] = ()  # `drsim drill attest` after the run, kept out of `events`
    prediction: PredictionMade | None = None  # the twin's prediction, made before a drill against Azure

    @property
    def run_id(self) -> str:
        return self.started.run_id if self.started is not None else self.run_dir.name

    @property
    def incident_at(self) -> datetime:
        return parse_iso(self.result.incident_at)

    @property
    def canary_checks(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.check is CheckKind.CANARY)

    @property
    def first_at(self) -> datetime | None:
        return self.events[0].at if self.events else None

    @property
    def last_at(self) -> datetime | None:
        return self.events[-1].at if self.events else None

    @property
    def controls(self) -> tuple[str, ...] | None:
        """The drill's evidence.controls, when the engine journals them on run.started."""
        found = getattr(self.started, "controls", None)
        return tuple(found) if found is not None else None

    @cached_property
    def timeline(self) -> RunTimeline:
        """The run's events indexed by task (drsim.measure.timeline), once per run read."""
        from drsim.measure.timeline import RunTimeline

        return RunTimeline(self.events)

    @cached_property
    def critical_paths(self) -> tuple[MeasuredPath, ...]:
        """What held up each application, measured (drsim.measure.critical); none without a run.started."""
        from drsim.measure.critical import measured_critical_paths

        return measured_critical_paths(self.timeline, list(self.measured.values())) if self.started is not None else ()

    @cached_property
    def by_class(self) -> EventsByClass:
        """The run's events grouped by class, once per run read."""
        return EventsByClass(self.events)

    @cached_property
    def cost(self) -> CostView:
        """What the drill's own resources cost (drsim.report.view.drill_cost), once per run read: the
        history store records it and the report shows it."""
        from drsim.report.view import drill_cost

        return drill_cost(self)

    @cached_property
    def findings(self) -> tuple[Finding, ...]:
        """The run's findings, derived from its journal (drsim.measure.findings); none without a run.started.
        The application of a VM no check named comes from the estate the run was made from (inputs/)."""
        from drsim.measure.findings import derive_findings

        if self.started is None:
            return ()
        named = {c.vm for c in self.checks if c.app is not None}
        planned = {t.vm for t in self.plan.tasks if t.vm is not None} if self.plan is not None else set()
        app_of_vm = estate_apps(self.run_dir, self.started) if planned - named else {}
        return derive_findings(self.events, timeline=self.timeline, paths=self.critical_paths, app_of_vm=app_of_vm)

    def task_key(self, task_id: str) -> TaskKey | None:
        if self.plan is None:
            return None
        for task in self.plan.tasks:
            if task.id == task_id:
                return (task.step, task.vm)
        return None


# ------------------------------------------------------------------------------------------ reading


def estate_apps(run_dir: Path, started: RunStarted) -> dict[str, str]:
    """The application of each VM of the estate the run was made from, as its copy in the run directory
    (inputs/) says, when that copy is the one the journal fingerprinted; the first application (in
    estate order) whose selector matches. Empty when there is no such copy, or it cannot be read."""
    import yaml

    from drsim.model.types import selector_matches

    estate = next((f for f in started.inputs if f.role == "estate"), None)
    if estate is None:
        return {}
    try:
        raw = (run_dir / estate.path).read_bytes()
        if hashlib.sha256(raw).hexdigest() != estate.sha256:
            return {}
        document = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        found: dict[str, str] = {}
        for app in document["apps"]:
            for vm in document["vms"]:
                tags = vm.get("tags") or {}
                if vm["name"] not in found and selector_matches(
                    {str(k): str(v) for k, v in app["vms"].items()}, vm["name"], {str(k): str(v) for k, v in tags.items()}
                ):
                    found[vm["name"]] = app["name"]
        return found
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError):
        return {}


def parse_time(text: str) -> datetime:
    """An ISO 8601 time with its zone, as result.json writes it (ValueError otherwise)."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return parsed


def _is_time(text: str) -> bool:
    try:
        parse_time(text)
    except ValueError:
        return False
    return True


def _result_times(result: DrillResult) -> Iterable[tuple[tuple[int | str, ...], str]]:
    """Every time field of result.json with its location."""
    yield ("incident_at",), result.incident_at
    for i, app in enumerate(result.apps):
        for name in ("trigger_at", "infra_ready_at", "healthy_at"):
            value = getattr(app, name)
            if value is not None:
                yield ("apps", i, name), value
    for i, task in enumerate(result.tasks):
        for name in ("started_at", "ended_at", "recovery_point_at"):
            value = getattr(task, name)
            if value is not None:
                yield ("tasks", i, name), value


def read_result(path: Path) -> tuple[DrillResult, str]:
    """result.json as the typed model (and the SHA-256 of its bytes); problems located by line."""
    shown = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path.parent}: no {RESULT}; is this a drill run directory?") from None
    except OSError as exc:
        raise DocumentError([Problem(shown, 1, 1, f"cannot read the file: {exc.strerror or exc}")]) from None
    try:
        data = json.loads(raw)
    except UnicodeDecodeError:
        raise DocumentError([Problem(shown, 1, 1, "the file is not UTF-8 text")]) from None
    except json.JSONDecodeError as exc:
        raise DocumentError([Problem(shown, exc.lineno, exc.colno, f"not valid JSON: {exc.msg}")]) from None
    from drsim.model.loader import problems_from_validation, read_yaml  # JSON is YAML: its node tree locates problems

    try:
        result = DrillResult.model_validate(data)
    except ValidationError as exc:
        _, source = read_yaml(path)
        raise DocumentError(problems_from_validation(source, exc)) from None
    bad_times = [(loc, value) for loc, value in _result_times(result) if not _is_time(value)]
    if bad_times:
        _, source = read_yaml(path)
        raise DocumentError([source.problem(loc, f"{loc[-1]}: expected an ISO 8601 UTC time, got {value!r}") for loc, value in bad_times])
    return result, hashlib.sha256(raw).hexdigest()


def read_events(path: Path) -> tuple[list[Event], ChainCheck, bool]:
    """The typed events of journal.jsonl, the state of its hash chain, and whether a torn last line was dropped.

    Forced re-seals and re-signatures (evidence.resealed, evidence.resigned, appended after the run) are among
    the events: read_run sets them apart.
    """
    shown = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path.parent}: no {JOURNAL}; is this a drill run directory?") from None
    except OSError as exc:
        raise DocumentError([Problem(shown, 1, 1, f"cannot read the journal: {exc.strerror or exc}")]) from None
    lines = journal_lines(raw)
    torn = bool(raw) and not raw.endswith(b"\n")
    if torn:
        lines = lines[:-1]  # the write a killed run did not finish (drsim.engine.journal drops it too)
    events = []
    chain = ChainWalker()
    for number, line in enumerate(lines, start=1):
        try:
            data = json_line(line)
        except UnicodeDecodeError:
            raise DocumentError([Problem(shown, number, 1, "the line is not UTF-8 text")]) from None
        except json.JSONDecodeError as exc:
            raise DocumentError([Problem(shown, number, exc.colno, f"not valid JSON: {exc.msg}")]) from None
        if not isinstance(data, dict):
            raise DocumentError([Problem(shown, number, 1, "expected one JSON object per line")])
        chain.feed(line, data)
        data.pop("prev", None)
        try:
            events.append(event_from_dict(data))
        except ValueError as exc:
            raise DocumentError([Problem(shown, number, 1, str(exc))]) from None
    return events, chain.result(), torn


class EventsByClass:
    """A run's events grouped by class in one pass, each group in journal order: what a report picks
    out of a large journal many times over."""

    def __init__(self, events: Sequence[Event]) -> None:
        self.events = events
        self.groups: dict[type[Event], list[Event]] = {}
        for event in events:
            group = self.groups.get(type(event))
            if group is None:
                group = self.groups[type(event)] = []
            group.append(event)

    def of(self, cls: type[_E]) -> Sequence[_E]:
        """The events that are instances of `cls`, in journal order."""
        return self.of_any(cls)  # type: ignore[return-value]

    def of_any(self, *classes: type[Event]) -> Sequence[Event]:
        """The events that are instances of any of `classes`, in journal order."""
        matching = [group for cls, group in self.groups.items() if issubclass(cls, classes)]
        if len(matching) <= 1:
            return matching[0] if matching else ()
        return [e for e in self.events if isinstance(e, classes)]  # several classes interleaved: in journal order

    def first(self, cls: type[_E]) -> _E | None:
        found = self.of(cls)
        return found[0] if found else None

    def last(self, cls: type[_E]) -> _E | None:
        found = self.of(cls)
        return found[-1] if found else None


def _points(finished: Iterable[TaskFinished]) -> tuple[RecoveryPointUse, ...]:
    found = []
    for event in finished:
        if event.recovery_point is not None:
            point = event.recovery_point
            found.append(RecoveryPointUse(event.step, event.vm, point.id, point.time, point.type, point.tier, point.region))
    return tuple(found)


def _failures(kinds: EventsByClass) -> tuple[TaskFailure, ...]:
    succeeded = {e.task for e in kinds.of(TaskFinished)}
    found = []
    for event in kinds.of_any(TaskRetrying, TaskFailed):
        if isinstance(event, TaskRetrying):
            found.append(TaskFailure(event.step, event.vm, event.attempt, event.error, event.at, False, event.task in succeeded))
        elif isinstance(event, TaskFailed):
            found.append(TaskFailure(event.step, event.vm, event.attempts, event.error, event.at, True, False))
    return tuple(found)


def _resources(events: Iterable[Event]) -> tuple[ResourceLife, ...]:
    created: dict[str, ResourceCreated] = {}  # the first resource.created of each id
    deleted: dict[str, datetime] = {}  # the last resource.deleted of each id after it was created
    for event in events:
        if isinstance(event, ResourceCreated):
            created.setdefault(event.id, event)
        elif isinstance(event, ResourceDeleted) and event.id in created:
            deleted[event.id] = event.at
    return tuple(
        ResourceLife(key, event.resource_kind, event.name, event.region, event.at, deleted.get(key), getattr(event, "cost_per_day", None))
        for key, event in created.items()
    )


def read_run(run_dir: str | os.PathLike[str]) -> RecordedRun:
    """Read a run directory (result.json + journal.jsonl) for reporting."""
    directory = Path(run_dir)
    if not directory.is_dir():
        raise UsageError(f"{directory}: not a directory (expected a run directory such as reports/<drill>/<run-id>)")
    result, digest = read_result(directory / RESULT)
    journaled, chain, torn = read_events(directory / JOURNAL)
    kinds = EventsByClass(journaled)
    after = kinds.of_any(EvidenceResealed, EvidenceResigned, RunAttested)  # wall-clock events after the run: not measured
    events = [e for e in journaled if not isinstance(e, EvidenceResealed | EvidenceResigned | RunAttested)] if after else journaled
    return RecordedRun(
        run_dir=directory,
        result=result,
        result_sha256=digest,
        events=tuple(events),
        chain=chain,
        torn_tail=torn,
        started=kinds.first(RunStarted),
        plan=kinds.first(PlanMade),
        measured={e.app: e for e in kinds.of(AppMeasured)},
        points=_points(kinds.of(TaskFinished)),
        failures=_failures(kinds),
        skipped=tuple(kinds.of(TaskSkipped)),
        checks=tuple(kinds.of(CheckResult)),
        resources=_resources(kinds.of_any(ResourceCreated, ResourceDeleted)),
        cleanup=kinds.last(CleanupFinished),
        failover_cleanups=tuple(kinds.of(CleanupTestFailover)),
        aborted=kinds.first(RunAborted),
        finished=kinds.last(RunFinished),
        reseals=tuple(kinds.of(EvidenceResealed)),
        resigns=tuple(kinds.of(EvidenceResigned)),
        attestations=tuple(kinds.of(RunAttested)),
        prediction=kinds.first(PredictionMade),
    )


# ------------------------------------------------------------------------- result.json vs the journal

_APP_FIGURES = ("rto_s", "rpo_s", "rpo_claimed_s", "rto_objective_s", "rpo_objective_s", "rto_met", "rpo_met", "consistent")
_APP_TIMES = ("trigger_at", "infra_ready_at", "healthy_at")
_SHOWN_DIFFERENCES = 5


def _same_time(text: str | None, moment: datetime | None) -> bool:
    if text is None or moment is None:
        return text is None and moment is None
    try:
        return parse_iso(text) == moment
    except ValueError:
        return False


def result_differences(run: RecordedRun) -> list[str]:
    """Where result.json says otherwise than the journal it was measured from: the run (run.started,
    run.finished), each application's figures (app.measured), the tasks and cleanup; empty when they agree."""
    result, started, finished = run.result, run.started, run.finished
    if started is None:
        return [f"{JOURNAL} has no run.started event"]
    found = []
    for name in ("drill", "runbook", "provider", "seed"):
        if getattr(result, name) != getattr(started, name):
            found.append(f"{name} is {getattr(result, name)!r}, the journal's run {started.run_id} has {getattr(started, name)!r}")
    if not _same_time(result.incident_at, started.incident_at):
        found.append(f"incident_at is {result.incident_at!r}, the journal's run {started.run_id} has {iso(started.incident_at)!r}")
    if finished is None:
        found.append(f"{JOURNAL} has no run.finished event (the run did not finish, or its journal was cut)")
    elif result.status is not finished.status:
        found.append(f"status is {result.status.value!r}, the journal's run.finished says {finished.status.value!r}")
    names = [a.app for a in result.apps]
    if sorted(names) != sorted(run.measured):
        found.append(f"apps are {', '.join(names) or 'none'}, the journal measured {', '.join(run.measured) or 'none'}")
    for app in result.apps:
        measured = run.measured.get(app.app)
        if measured is None:
            continue
        for name in _APP_FIGURES:
            if getattr(app, name) != getattr(measured, name):
                found.append(f"{app.app} {name} is {getattr(app, name)!r}, the journal's app.measured says {getattr(measured, name)!r}")
        for name in _APP_TIMES:
            moment = getattr(measured, name)
            if not _same_time(getattr(app, name), moment):
                shown = iso(moment) if moment is not None else None
                found.append(f"{app.app} {name} is {getattr(app, name)!r}, the journal's app.measured says {shown!r}")
    tasks = run.timeline.task_results()
    if len(result.tasks) != len(tasks):
        found.append(f"{len(result.tasks)} tasks, the journal's plan has {len(tasks)}")
    else:
        for number, (written, journaled) in enumerate(zip(result.tasks, tasks, strict=True)):
            if written != journaled:
                fields = [k for k, v in written.model_dump().items() if v != getattr(journaled, k)]
                found.append(f"tasks[{number}] ({written.step} on {written.vm or 'no VM'}): {', '.join(fields)} differ from the journal")
    cleanup = run.cleanup
    status = cleanup.status if cleanup is not None else "incomplete"
    if result.cleanup.status != status:
        found.append(f"cleanup status is {result.cleanup.status!r}, the journal's cleanup says {status!r}")
    leftovers = sorted(r.id for r in cleanup.leftovers) if cleanup is not None else []
    if sorted(r.id for r in result.cleanup.leftovers) != leftovers:
        found.append(f"cleanup lists {len(result.cleanup.leftovers)} leftover(s), the journal's cleanup.finished {len(leftovers)}")
    return found


def result_problems(run: RecordedRun) -> list[str]:
    """Why result.json is not the file the run's journal gives, empty when it is: result.json is
    recomputed from the journal (drsim.measure.timeline.result_from_journal) and compared byte for
    byte; result_differences names what differs."""
    found = result_differences(run)
    if found or run.started is None:
        return found
    from drsim.measure.timeline import result_from_journal

    recomputed = result_from_journal(run.events).to_json().encode("utf-8")
    if hashlib.sha256(recomputed).hexdigest() != run.result_sha256:
        written = run.result.model_dump(mode="json")
        fields = [k for k, v in result_from_journal(run.events).model_dump(mode="json").items() if written.get(k) != v]
        where = f" ({', '.join(fields)} differ)" if fields else " (the same values, written otherwise)"
        found.append(f"{RESULT} is not the file its {JOURNAL} gives when recomputed{where}")
    return found


def check_result_matches_journal(run: RecordedRun) -> None:
    """Refuse a run whose result.json is not what its journal measured (edited, or copied from another run)."""
    found = result_problems(run)
    if found:
        more = len(found) - _SHOWN_DIFFERENCES
        shown = "; ".join(found[:_SHOWN_DIFFERENCES]) + (f"; and {more} more" if more > 0 else "")
        raise UsageError(
            f"{run.run_dir / RESULT}: does not match the run's {JOURNAL}: {shown}. "
            "One of the two was changed, or result.json comes from another run: refusing to report or seal the run"
        )
