"""The timeline a drill run leaves: typed events, one per journal line.

The engine emits these records as things happen; `drsim.engine.journal` writes them to
journal.jsonl (hash-chained) and reads them back; `drsim.measure.timeline` turns a run's events
into RTO/RPO per application. Reports read the same records. Every time is a UTC datetime (virtual
in the simulated world); on disk it is ISO 8601 with a Z.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, TypeVar, get_args, get_origin, get_type_hints

from drsim.cloud.api import ResourceKind
from drsim.measure.result import RunStatus
from drsim.model.types import Action, CleanupPolicy, CleanupStatus
from drsim.records import quick_init
from drsim.times import parse_utc, utc_text


class FailureCategory(StrEnum):
    """Why a task failed, which decides the run's status (DESIGN.md exit codes)."""

    CHECK = "check"  # a check found the recovered app unhealthy: the drill ran, it failed (exit 1)
    RECOVERY = "recovery"  # the cloud could not recover (no point, region down, too slow): exit 1
    EXECUTION = "execution"  # the drill could not be carried out (retries exhausted, refused, aborted): exit 3


class CheckKind(StrEnum):
    BOOT = "boot"
    CANARY = "canary"


iso = utc_text  # the one text form of a time in journals and results (drsim.times)


def parse_iso(text: str) -> datetime:
    """A time as journals and results write it (a time without a zone is taken as UTC)."""
    return parse_utc(text, naive_is_utc=True)


@dataclass(frozen=True, slots=True)
class RecoveryPointRef:
    """The recovery point a task restored from (Backup point, Site Recovery point or snapshots)."""

    id: str
    time: datetime
    type: str  # AppConsistent | FileSystemConsistent | CrashConsistent
    tier: str | None  # snapshot | vault for Azure Backup; None otherwise
    region: str


@dataclass(frozen=True, slots=True)
class VolumeCheck:
    name: str
    consistent: bool
    disk_instants: tuple[datetime | None, ...]


@dataclass(frozen=True, slots=True)
class PlannedTask:
    id: str
    step: str
    action: Action
    vm: str | None
    ops: tuple[str, ...]
    estimate_s: float


@dataclass(frozen=True, slots=True)
class LeftoverResource:
    id: str
    kind: ResourceKind
    name: str
    region: str
    cost_per_day: float


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every journal event: what happened (`kind`) and when (`at`)."""

    kind: ClassVar[str] = ""
    at: datetime


@dataclass(frozen=True, slots=True)
class Person:
    """Someone the drill lists as a participant: a name and a role."""

    name: str
    role: str


@dataclass(frozen=True, slots=True)
class InputFile:
    """A document the run was made from, copied into the run directory (`inputs/<role>.yaml`)."""

    role: str  # drill | runbook | estate | plan | calibration
    path: str  # relative to the run directory
    sha256: str


@dataclass(frozen=True, slots=True)
class Performed:
    """When and by whom a run was performed: wall-clock fact, not a function of the seed."""

    started: datetime
    drsim_version: str
    host: str
    user: str


@dataclass(frozen=True, slots=True)
class RunStarted(Event):
    kind: ClassVar[str] = "run.started"
    run_id: str
    drill: str
    runbook: str
    estate: str
    plan: str
    provider: str
    seed: int
    incident_at: datetime
    detected_at: datetime  # the incident plus the scenario's detected_after: when the drill starts acting
    drsim_version: str
    catalog_version: str | None
    concurrency: int
    cleanup: CleanupPolicy
    controls: tuple[str, ...] = ()  # the drill's evidence.controls: what its report evidences
    drill_file: str | None = None  # the drill document's path, absolute: what `drsim drill run --resume RUN_DIR` reads
    inputs: tuple[InputFile, ...] = ()  # the documents as run (result.json's `inputs`)
    emulated: bool = False  # provider azure against drsim's ARM emulator (a loopback endpoint)
    performed: Performed | None = None  # wall clock: when the run started, on which host, by whom


@dataclass(frozen=True, slots=True)
class RunPerformed(Event):
    """The last event of a journaled run: when it ended on the wall clock (`at` is the run's own last time)."""

    kind: ClassVar[str] = "run.performed"
    ended: datetime


@dataclass(frozen=True, slots=True)
class PlanMade(Event):
    kind: ClassVar[str] = "plan"
    tasks: tuple[PlannedTask, ...]
    step_edges: tuple[tuple[str, str], ...]
    critical_path: tuple[str, ...]
    critical_path_s: float
    lower_bound_s: float


@dataclass(frozen=True, slots=True)
class TaskEvent(Event):
    task: str
    step: str
    action: Action
    vm: str | None


@dataclass(frozen=True, slots=True)
class TaskStarted(TaskEvent):
    kind: ClassVar[str] = "task.started"
    attempt: int


@dataclass(frozen=True, slots=True)
class TaskRetrying(TaskEvent):
    kind: ClassVar[str] = "task.retrying"
    attempt: int  # the attempt that failed
    error: str
    retry_in_s: float


@dataclass(frozen=True, slots=True)
class CallFailed(Event):
    """A provider call outside any task (discovery, cleanup) failed; retry_in_s is None when it was not retried."""

    kind: ClassVar[str] = "call.failed"
    call: str
    attempt: int
    error: str
    retry_in_s: float | None


@dataclass(frozen=True, slots=True)
class TaskFinished(TaskEvent):
    kind: ClassVar[str] = "task.finished"
    attempts: int
    recovery_point: RecoveryPointRef | None = None
    recovered_vm: str | None = None  # the id of the VM this task brought up


@dataclass(frozen=True, slots=True)
class TaskFailed(TaskEvent):
    kind: ClassVar[str] = "task.failed"
    attempts: int
    error: str
    error_type: str
    category: FailureCategory
    allowed: bool  # the step has allow_failure: its dependants go on


@dataclass(frozen=True, slots=True)
class TaskSkipped(TaskEvent):
    kind: ClassVar[str] = "task.skipped"
    reason: str


@dataclass(frozen=True, slots=True)
class HumanWaiting(Event):
    """A manual step (manual.declare, manual.approve) waits for a person, in a real-time run. It waits
    until a human.acted of the same task, or until the task ends otherwise (task.failed: timed out or
    aborted); a journal that ends with it open (a crashed run) still waits. In virtual time manual
    steps take their configured duration and journal neither event."""

    kind: ClassVar[str] = "human.waiting"
    task: str
    step: str
    action: Action
    attempt: int
    since: datetime  # when the wait began (the drill's clock)
    timeout_s: float | None  # the step's timeout: the wait ends unanswered then (None: no limit)
    participants: tuple[Person, ...] = ()  # the drill's expected participants (empty: anyone who gives a name)
    who: str | None = None  # the role the runbook names for the step (with.who)


@dataclass(frozen=True, slots=True)
class HumanActed(Event):
    """A person declared or approved a manual step: who, in what role, with what note, and how long the
    step waited for them (`at` is when; waited_s is on the drill's clock)."""

    kind: ClassVar[str] = "human.acted"
    task: str
    step: str
    action: Action
    attempt: int
    by: str
    role: str | None
    note: str | None
    waited_s: float
    via: str  # where the person answered: terminal | drsim drill approve


@dataclass(frozen=True, slots=True)
class ResourceCreated(Event):
    kind: ClassVar[str] = "resource.created"
    id: str
    resource_kind: ResourceKind
    name: str
    region: str
    task: str | None
    cost_per_day: float | None = None  # USD list price per day while it exists, when the provider knows it


@dataclass(frozen=True, slots=True)
class OperationAccepted(Event):
    """A long-running cloud operation the cloud accepted (a Backup restore, a Site Recovery test failover),
    journaled before drsim waits for it: whatever ends the run (failure, timeout, Ctrl-C, exhausted
    retries), cleanup knows it is in flight and what it will create."""

    kind: ClassVar[str] = "operation.accepted"
    task: str
    vm: str | None  # the production VM it acts on
    operation: str  # JobKind: restore | test-failover | test-failover-cleanup
    job: str  # the id of the job to follow
    target: str | None = None  # a restore: what it creates, as drsim named it; a test failover: the replicated VM's id
    mode: str | None = None  # of a restore: vm | disks
    point: RecoveryPointRef | None = None  # the recovery point it recovers (a restore: with the tier it uses), when drsim chose one


@dataclass(frozen=True, slots=True)
class GroupInstantChosen(Event):
    """The multi-VM instant a Site Recovery consistency group fails over to (`recovery_point:
    latest-multi-vm-processed`), fixed by the first VM of the group to choose its point and journaled
    before any VM of the group fails over: a resumed run fails the group's other VMs over to this same
    instant (drsim.engine.resume), so the group comes back consistent whenever drsim was stopped."""

    kind: ClassVar[str] = "group.instant"
    task: str  # the task of the VM that fixed it
    vm: str
    group: str  # the consistency group, as the cloud names it on its recovery points
    instant: datetime


@dataclass(frozen=True, slots=True)
class OperationFinished(TaskEvent):
    """One operation of a task that succeeded, timed on the run's clock (the provider's time): what
    `drsim calibrate` fits the twin's catalog to and what a report sets beside the prediction.
    Journaled by real-time runs (provider azure) only; a simulated run keeps its timings in memory."""

    kind: ClassVar[str] = "operation.finished"
    op: str  # the operation's id within the task (`restore`, `snapshot-data1`, ...)
    op_kind: str  # drsim.engine.taskgraph.OpKind: restore | create-vm | create-disk | snapshot | ...
    started_at: datetime
    seconds: float  # from its (last) request to its end; waits for a throttled call's retry-after excluded
    cloud_s: float | None = None  # what the cloud reports its long-running operations and jobs took (startTime to endTime), summed


@dataclass(frozen=True, slots=True)
class PredictedSpread:
    """What the twin's trials gave for one measure: how many trials had it, and its 5th, 50th and 95th
    percentiles in seconds (None when no trial had it)."""

    name: str  # an application, a step id, or an operation kind
    samples: int
    p5_s: float | None
    p50_s: float | None
    p95_s: float | None


@dataclass(frozen=True, slots=True)
class PredictionMade(Event):
    """The twin's prediction of a real drill, made before it starts: `trials` simulated runs of the same
    documents at the same incident time, engine seeds drawn from `seed` (drsim.compare.predict).
    `apps`: RTO per application; `steps`: each step's span (its first task's start to its last task's
    end); `operations`: one operation's duration, per operation kind. A simulation: never evidence."""

    kind: ClassVar[str] = "prediction.made"
    trials: int
    seed: int
    incident_at: datetime
    catalog_version: str
    apps: tuple[PredictedSpread, ...]
    steps: tuple[PredictedSpread, ...]
    operations: tuple[PredictedSpread, ...]


@dataclass(frozen=True, slots=True)
class ResourceDeleted(Event):
    kind: ClassVar[str] = "resource.deleted"
    id: str
    resource_kind: ResourceKind
    name: str
    region: str


@dataclass(frozen=True, slots=True)
class CheckResult(Event):
    kind: ClassVar[str] = "check.result"
    task: str
    check: CheckKind
    vm: str
    app: str | None
    passed: bool
    reachable: bool
    healthy_at: datetime | None  # the first of the required consecutive passing reads (or the boot)
    reads: int
    last_marker_at: datetime | None = None
    measured_rpo_s: float | None = None
    claimed_rpo_s: float | None = None
    consistent: bool | None = None
    corrupted: bool | None = None
    volumes: tuple[VolumeCheck, ...] = ()
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class CleanupStarted(Event):
    kind: ClassVar[str] = "cleanup.started"
    policy: CleanupPolicy
    resources: int


@dataclass(frozen=True, slots=True)
class CleanupTestFailover(Event):
    kind: ClassVar[str] = "cleanup.test_failover"
    vm: str
    job: str
    succeeded: bool
    error: str | None = None


@dataclass(frozen=True, slots=True)
class CleanupRestoreCancelled(Event):
    """Cleanup cancelled a Backup restore the run stopped following (a step timeout, Ctrl-C, exhausted
    retries) and waited for its job: `status` is the job's status when cleanup stopped waiting (Cancelled;
    Succeeded or Failed when it ended before the cancel took; InProgress or Cancelling when the wait ran out;
    empty when the job could not be read), `error` why the cancel or the read failed."""

    kind: ClassVar[str] = "cleanup.restore_cancelled"
    vm: str
    job: str
    status: str
    error: str | None = None


@dataclass(frozen=True, slots=True)
class CleanupFinished(Event):
    kind: ClassVar[str] = "cleanup.finished"
    status: CleanupStatus
    leftovers: tuple[LeftoverResource, ...]


@dataclass(frozen=True, slots=True)
class AppMeasured(Event):
    """An application's timestamps, RTO split and RPO, as measured from the run (for reports)."""

    kind: ClassVar[str] = "app.measured"
    app: str
    incident_at: datetime
    trigger_at: datetime | None
    infra_ready_at: datetime | None
    healthy_at: datetime | None
    rto_s: float | None
    human_wait_s: float | None
    infrastructure_s: float | None
    validation_s: float | None
    rpo_s: float | None
    rpo_claimed_s: float | None
    consistent: bool | None
    rto_objective_s: float | None
    rpo_objective_s: float | None
    rto_met: bool | None
    rpo_met: bool | None


@dataclass(frozen=True, slots=True)
class RunAborted(Event):
    kind: ClassVar[str] = "run.aborted"
    reason: str


@dataclass(frozen=True, slots=True)
class RunResumed(Event):
    kind: ClassVar[str] = "run.resumed"
    replayed: int  # journal lines re-verified before this one


@dataclass(frozen=True, slots=True)
class RunFinished(Event):
    kind: ClassVar[str] = "run.finished"
    status: RunStatus
    error: str | None = None


@dataclass(frozen=True, slots=True)
class EvidenceResealed(Event):
    """`drsim evidence seal --force` sealed the run over changes made since it was last sealed: appended
    to the finished run's journal (so chained, and under the new seal), with what had changed. Its
    time is the wall clock's, not the run's: it is kept out of the run's measures."""

    kind: ClassVar[str] = "evidence.resealed"
    changes: tuple[str, ...]  # what `drsim evidence verify` found, as it said it
    user: str
    host: str
    drsim_version: str


@dataclass(frozen=True, slots=True)
class EvidenceResigned(Event):
    """`drsim evidence seal --re-sign` or `drsim report --re-sign` replaced the run's signature with one
    made by another key: appended to the finished run's journal (so chained, and under the new
    signature) before the run is sealed again, naming the key that had signed it, the key that signs it
    now (each by the SHA-256 of its raw public key) and the manifest the old signature covered. Its time
    is the wall clock's; it is kept out of the run's measures."""

    kind: ClassVar[str] = "evidence.resigned"
    previous_key_sha256: str  # "unreadable" when the old manifest.sig did not name a key drsim could read
    key_sha256: str
    previous_manifest_sha256: str | None  # None when there was no manifest.json beside the old signature
    user: str  # the operating-system account that ran the command
    host: str
    drsim_version: str


class Verdict(StrEnum):
    """What an attestation says of a run."""

    PASSED = "passed"
    FAILED = "failed"
    PASSED_WITH_EXCEPTIONS = "passed-with-exceptions"


@dataclass(frozen=True, slots=True)
class RunAttested(Event):
    """`drsim drill attest`: a person's verdict on a finished run, appended to its journal (chained, and
    under the new seal). It names what was attested: result.json's SHA-256 and the journal's chain head
    before this line. Its time is the wall clock's; it is kept out of the run's measures."""

    kind: ClassVar[str] = "run.attested"
    by: str
    role: str
    verdict: Verdict
    note: str | None
    result_sha256: str
    journal_head: str
    user: str  # the operating-system account that ran the command
    host: str
    drsim_version: str


for _record in (RecoveryPointRef, VolumeCheck, PlannedTask, LeftoverResource, Person, PredictedSpread):
    quick_init(_record)


@dataclass(frozen=True, slots=True)
class CoverageMade(Event):
    """The one event of a coverage packet's journal (`drsim coverage`): what period it covers, from
    which store, and the SHA-256 of the coverage.json it wrote; `at` and `performed` are the wall clock."""

    kind: ClassVar[str] = "coverage.made"
    run_id: str  # coverage-<period>: what the packet's manifest names it by
    period: str
    period_start: datetime
    period_end: datetime
    store: str
    estate: str | None
    runs: int
    coverage_sha256: str
    performed: Performed


EVENT_TYPES: Mapping[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        RunStarted,
        PlanMade,
        PredictionMade,
        TaskStarted,
        TaskRetrying,
        CallFailed,
        RunPerformed,
        TaskFinished,
        TaskFailed,
        TaskSkipped,
        ResourceCreated,
        OperationAccepted,
        GroupInstantChosen,
        ResourceDeleted,
        OperationFinished,
        CheckResult,
        CleanupStarted,
        CleanupTestFailover,
        CleanupRestoreCancelled,
        CleanupFinished,
        AppMeasured,
        RunAborted,
        RunResumed,
        RunFinished,
        EvidenceResealed,
        EvidenceResigned,
        CoverageMade,
        HumanWaiting,
        HumanActed,
        RunAttested,
    )
}
for _event_type in EVENT_TYPES.values():
    quick_init(_event_type)  # a large drill makes hundreds of thousands of events


# ------------------------------------------------------------------------------ plain JSON data
#
# A journal holds one event per line and a large drill writes and reads hundreds of thousands of
# them, so each event class's field names and per-field decoders are worked out once and cached.

_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def _plain(value: Any) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is datetime:
        return iso(value)
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: _plain(getattr(value, name)) for name in _field_names(kind)}
    return value


def event_to_dict(event: Event) -> dict[str, Any]:
    """The JSON object of one event: `event` (its kind) first, then its fields in declaration order."""
    data: dict[str, Any] = {"event": event.kind}
    for name in _field_names(type(event)):
        data[name] = _plain(getattr(event, name))
    return data


_T = TypeVar("_T")
_Decode = Callable[[Any], Any]
_DECODERS: dict[type, Callable[[Mapping[str, Any]], Any]] = {}


def _float(value: Any) -> Any:
    return float(value) if isinstance(value, int) else value


def _time_decoder() -> _Decode:
    """parse_iso, for one field of one record, remembering the last text it parsed: a journal's
    consecutive events share their time more often than not."""
    last: list[tuple[Any, Any]] = [(None, None)]  # (text, time), replaced whole: a reader never sees half

    def decode(text: Any) -> Any:
        seen = last[0]
        if text == seen[0]:
            return seen[1]
        moment = parse_iso(text)
        last[0] = (text, moment)
        return moment

    return decode


def _enum_decoder(cls: type[StrEnum]) -> _Decode:
    """`cls(value)`: a member found by its value directly, anything else left to the enum (and its error)."""
    members = cls._value2member_map_

    def decode(value: Any) -> Any:
        try:
            return members[value]
        except (KeyError, TypeError):
            return cls(value)

    return decode


def _decoder(hint: Any) -> _Decode | None:
    """How to turn the JSON value of a field of type `hint` into its typed value (None: as it is).
    A decoder is never given None: a null stays None whatever the type."""
    origin = get_origin(hint)
    args = get_args(hint)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            each = _decoder(args[0])
            if each is None:
                return tuple
            return lambda value: tuple(None if v is None else each(v) for v in value)
        parts = [_decoder(a) for a in args]
        return lambda value: tuple(v if decode is None or v is None else decode(v) for decode, v in zip(parts, value, strict=True))
    if args and type(None) in args:  # X | None
        (inner,) = [a for a in args if a is not type(None)]
        return _decoder(inner)
    if hint is datetime:
        return _time_decoder()
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return _enum_decoder(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _class_decoder(hint)
    if hint is float:
        return _float
    return None


def _class_decoder(cls: type[_T]) -> Callable[[Mapping[str, Any]], _T]:
    """A function from the JSON object of a record (an event, or a record inside one) to the record."""
    found = _DECODERS.get(cls)
    if found is not None:
        return found
    hints = get_type_hints(cls)
    names = _field_names(cls)
    converters = {name: convert for name in names if (convert := _decoder(hints[name])) is not None}
    converting = tuple(converters.items())
    allowed = frozenset(names) | {"event"}

    def decode(data: Mapping[str, Any]) -> _T:
        if not data.keys() <= allowed:
            raise ValueError(f"unknown fields {sorted(set(data) - allowed)} for {cls.__name__}")
        values = dict(data)
        values.pop("event", None)
        for name, convert in converting:
            value = values.get(name)
            if value is not None:
                values[name] = convert(value)
        return cls(**values)

    _DECODERS[cls] = _whole_record_decoder(cls, names, converters, decode)
    return _DECODERS[cls]


def _whole_record_decoder(
    cls: type[_T], names: tuple[str, ...], converters: Mapping[str, _Decode], decode: Callable[[Mapping[str, Any]], _T]
) -> Callable[[Mapping[str, Any]], _T]:
    """`decode`, straight through for an object holding every field of the record (all a journal line
    holds): one call of the class with each field converted, no copy of the object. Anything else, or
    any error on the way, goes to `decode`, which makes the same record or raises its own error."""
    fields = frozenset(names)
    with_kind = fields | {"event"}
    namespace: dict[str, Any] = {"_cls": cls, "_decode": decode, "_fields": fields, "_with_kind": with_kind}
    arguments = []
    for i, name in enumerate(names):
        if name in converters:
            namespace[f"_convert{i}"] = converters[name]
            arguments.append(f"{name}=None if (v{i} := data[{name!r}]) is None else _convert{i}(v{i})")
        else:
            arguments.append(f"{name}=data[{name!r}]")
    source = (
        "def decode_whole(data):\n"
        "    keys = data.keys()\n"
        "    if keys == _with_kind or keys == _fields:\n"
        "        try:\n"
        f"            return _cls({', '.join(arguments)})\n"
        "        except Exception:\n"
        "            pass  # _decode raises it again, as it words it\n"
        "    return _decode(data)\n"
    )
    exec(source, namespace)  # generated from the record's own field names, as drsim.records.quick_init does
    function: Callable[[Mapping[str, Any]], _T] = namespace["decode_whole"]
    return function


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """The typed event of one journal object; ValueError names what is wrong."""
    kind = data.get("event")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown event {kind!r}")
    try:
        return _class_decoder(cls)(data)
    except (TypeError, KeyError, AttributeError) as exc:  # a missing field, or a value of the wrong JSON type
        raise ValueError(f"bad {kind} event: {exc}") from None
