"""Scalar types shared by every document: durations, names, selectors and the closed sets."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, StringConstraints, WithJsonSchema

from drsim.times import NoTimeZone, parse_utc

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
DURATION_PATTERN = r"^(?=\d)(\d+d)?(\d+h)?(\d+m)?(\d+s)?$"


def parse_duration(text: object) -> timedelta:
    """Parse `90s`, `15m`, `4h`, `7d` or a combination in that order (`1h30m`)."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, bool) or not isinstance(text, str):
        if isinstance(text, int | float) and not isinstance(text, bool):
            raise ValueError(f"{text!r} needs a unit: write e.g. '{text}s', '{text}m' or '{text}h'")
        raise ValueError("a duration is a string such as '90s', '15m', '4h', '7d' or '1h30m'")
    stripped = text.strip()
    if stripped.startswith("-"):
        raise ValueError(f"{text!r} is negative: durations count forward")
    match = _DURATION.fullmatch(stripped)
    if not stripped or match is None or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration: write e.g. '90s', '15m', '4h', '7d' or '1h30m'")
    seconds = sum(int(g) * unit for g, (_, unit) in zip(match.groups(), _UNITS, strict=True) if g)
    if seconds > 10 * 365 * 86400:
        raise ValueError(f"{text!r} is longer than ten years")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The canonical text of a duration: largest units first, zero parts left out (`1h30m`)."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in _UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than zero")
    return value


_duration_schema = WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN, "examples": ["90s", "15m", "1h30m"]})
_duration_serializer = PlainSerializer(format_duration, return_type=str)

Duration = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_positive), _duration_serializer, _duration_schema]
"""A strictly positive duration."""
NonNegativeDuration = Annotated[timedelta, BeforeValidator(parse_duration), _duration_serializer, _duration_schema]
"""A duration that may be zero (`0s`)."""

EARLIEST_INSTANT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(2200, 1, 1, tzinfo=UTC)


class KeyProblem(ValueError):
    """A problem a model-level check finds in one of its keys: reported at the first of `keys` the
    document writes (the message reads after "key: "), else at the whole mapping."""

    def __init__(self, keys: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.keys = keys


def instant_out_of_range(value: datetime) -> str | None:
    """Why drsim cannot simulate an incident at this (aware) time, or None: its schedules reach back
    years and a drill may run years on, so times stay within 1970-2199."""
    if EARLIEST_INSTANT <= value < LATEST_INSTANT:
        return None
    return f"{value.isoformat()} is outside the years drsim simulates (1970 to 2199)"


def parse_instant(text: str, option: str) -> datetime:
    """A command-line time (`--incident-at`, `--at`): ISO 8601 with its zone, within 1970-2199, in UTC."""
    from drsim.errors import UsageError

    try:
        value = parse_utc(text)
    except NoTimeZone:
        raise UsageError(f"{option} {text!r} has no time zone: write it in UTC with a Z, e.g. 2026-11-20T14:00:00Z") from None
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a time: write it in UTC, e.g. 2026-11-20T14:00:00Z") from None
    problem = instant_out_of_range(value)
    if problem is not None:
        raise UsageError(f"{option}: {problem}")
    return value.astimezone(UTC)


TIME_OF_DAY_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$"
STEP_ID_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9_])?$"
REGION_PATTERN = r"^[a-z][a-z0-9]{1,39}$"
VM_SIZE_PATTERN = r"^[A-Za-z0-9_]+$"
VM_UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
"""An Azure vmId (properties.vmId, the instance metadata service's compute/vmId): a GUID."""
CONTROL_PATTERN = r"^[A-Za-z0-9-]+:[A-Za-z0-9.()-]+$"
SUBSCRIPTION_PATTERN = r"^[0-9a-fA-F-]{36}$"
PATTERN_HELP = {
    NAME_PATTERN: "a valid name: letters, digits, '.', '_' and '-', starting with a letter or digit, at most 80 characters",
    STEP_ID_PATTERN: "a valid step id: letters, digits, '.', '_' and '-', starting with a letter or digit, not ending with '.' or '-', "
    "at most 63 characters",
    REGION_PATTERN: "an Azure region name as ARM writes it, e.g. eastus2",
    VM_SIZE_PATTERN: "a VM size, e.g. Standard_D2s_v5",
    VM_UUID_PATTERN: "a vmId (a GUID, as properties.vmId gives it)",
    CONTROL_PATTERN: "a control id as framework:control, e.g. iso27001-2022:A.5.30",
    SUBSCRIPTION_PATTERN: "a subscription id (a GUID)",
    DURATION_PATTERN: "a duration such as 90s, 15m, 4h, 7d or 1h30m",
}
"""What each pattern means, for messages a person can act on."""


def _time_of_day(value: object) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        hours, _, minutes = value.partition(":")
        if len(hours) == len(minutes) == 2 and hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60:
            return time(int(hours), int(minutes))
        raise ValueError(f'{value!r} is not a time of day: write it as "HH:MM" (UTC), e.g. "02:00"')
    raise ValueError('a time of day is a quoted string "HH:MM" (UTC), e.g. "02:00"')


TimeOfDay = Annotated[
    time,
    BeforeValidator(_time_of_day),
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str),
    WithJsonSchema({"type": "string", "pattern": TIME_OF_DAY_PATTERN, "examples": ["02:00", "22:30"]}),
]
"""A time of day in UTC, written "HH:MM"."""

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
"""A resource or document name: letters, digits, '.', '_', '-'; at most 80 characters."""
StepId = Annotated[str, StringConstraints(pattern=STEP_ID_PATTERN)]
"""A step id: letters, digits, '.', '_' and '-'."""
Region = Annotated[str, StringConstraints(pattern=REGION_PATTERN)]
"""An Azure region name as ARM writes it (`eastus2`)."""


def _tag_text(value: object) -> object:
    """Azure tag values are strings: numbers, booleans and dates that YAML typed become strings again."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _tag_values(value: object) -> object:
    if isinstance(value, Mapping):
        return {k: _tag_text(v) for k, v in value.items()}
    return value


def _freeze(value: dict[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


TagKey = Annotated[str, StringConstraints(min_length=1, max_length=512)]
TagValue = Annotated[str, StringConstraints(max_length=256)]
_frozen_serializer = PlainSerializer(dict, return_type=dict[str, str])

Tags = Annotated[dict[TagKey, TagValue], BeforeValidator(_tag_values), AfterValidator(_freeze), _frozen_serializer]
"""Azure tags: string keys and values, read-only once loaded."""
Selector = Annotated[dict[TagKey, TagValue], BeforeValidator(_tag_values), AfterValidator(_freeze), _frozen_serializer]
"""A VM selector: every VM whose tags match all pairs (so `{}` matches every VM). The key `name` also
matches the VM's name."""


def selector_matches(selector: Mapping[str, str], name: str, tags: Mapping[str, str]) -> bool:
    """True when a VM with this name and these tags matches every pair of the selector."""
    for key, wanted in selector.items():
        if key == "name" and "name" not in tags:
            if name != wanted:
                return False
        elif tags.get(key) != wanted:
            return False
    return True


def describe_selector(selector: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in selector.items()) + "}"


class OsType(StrEnum):
    WINDOWS = "windows"
    LINUX = "linux"


class PowerState(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"
    DEALLOCATED = "deallocated"


class VolumeLayout(StrEnum):
    STRIPED = "striped"
    SINGLE = "single"


class BackupPolicyKind(StrEnum):
    STANDARD = "standard"
    ENHANCED = "enhanced"


class Redundancy(StrEnum):
    LRS = "LRS"
    ZRS = "ZRS"
    GRS = "GRS"


class IncidentKind(StrEnum):
    REGION_OUTAGE = "region-outage"
    VM_LOSS = "vm-loss"
    DISK_FAILURE = "disk-failure"
    DATA_CORRUPTION = "data-corruption"
    RANSOMWARE = "ransomware"
    ACCIDENTAL_DELETE = "accidental-delete"


class Phase(StrEnum):
    """Where recovery time goes (DESIGN.md: RTO with human wait time separated)."""

    HUMAN = "human wait"
    INFRASTRUCTURE = "infrastructure"
    VALIDATION = "validation"


class Action(StrEnum):
    """A runbook step's action; its group (a person, a recovery, a check) and the phase its time counts in."""

    MANUAL_DECLARE = "manual.declare"
    MANUAL_APPROVE = "manual.approve"
    NETWORK_ISOLATE = "network.isolate"
    ASR_TEST_FAILOVER = "asr.test_failover"
    BACKUP_RESTORE = "backup.restore"
    SNAPSHOT_CLONE = "snapshot.clone"
    IMAGE_DEPLOY = "image.deploy"
    CHECK_BOOT = "check.boot"
    CHECK_CANARY = "check.canary"
    WAIT = "wait"

    @property
    def is_manual(self) -> bool:
        """A person acts (declares the disaster, approves a step)."""
        return self in (Action.MANUAL_DECLARE, Action.MANUAL_APPROVE)

    @property
    def is_recovery(self) -> bool:
        """It brings a VM back (a test failover, a restore, a clone, an image deployment)."""
        return self in (Action.ASR_TEST_FAILOVER, Action.BACKUP_RESTORE, Action.SNAPSHOT_CLONE, Action.IMAGE_DEPLOY)

    @property
    def is_check(self) -> bool:
        """It validates what was recovered."""
        return self in (Action.CHECK_BOOT, Action.CHECK_CANARY)

    @property
    def phase(self) -> Phase:
        """A person's time is human wait; checks are validation; the rest (network, recovery, wait) is infrastructure."""
        return Phase.HUMAN if self.is_manual else Phase.VALIDATION if self.is_check else Phase.INFRASTRUCTURE


class CleanupStatus(StrEnum):
    """How cleanup ended."""

    DONE = "done"
    INCOMPLETE = "incomplete"
    SKIPPED = "skipped"


class ReplicationPointChoice(StrEnum):
    LATEST = "latest"
    LATEST_PROCESSED = "latest-processed"
    LATEST_APP_CONSISTENT = "latest-app-consistent"
    # The newest processed point a multi-VM consistency group shares (MultiVmSyncRecoveryPoint):
    # every VM of the group fails over to the same instant (A2A FAQ; recovery-plan-overview).
    LATEST_MULTI_VM_PROCESSED = "latest-multi-vm-processed"


class BackupPointChoice(StrEnum):
    LATEST = "latest"
    LATEST_APP_CONSISTENT = "latest-app-consistent"
    BEFORE_INCIDENT = "before-incident"


class BackupTier(StrEnum):
    AUTO = "auto"
    SNAPSHOT = "snapshot"
    VAULT = "vault"


class RestoreAs(StrEnum):
    VM = "vm"
    DISKS = "disks"


class SnapshotSource(StrEnum):
    SCHEDULED = "scheduled"
    FRESH = "fresh"


class CleanupPolicy(StrEnum):
    ALWAYS = "always"
    ON_SUCCESS = "on-success"
    NEVER = "never"


class ProviderKind(StrEnum):
    SIM = "sim"
    AZURE = "azure"


def jsonable(value: Any) -> Any:
    """Plain JSON data from model values (Mapping proxies become dicts)."""
    if isinstance(value, Mapping):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
