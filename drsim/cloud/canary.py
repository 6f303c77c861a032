"""The canary protocol: the marker logs on production VMs, the writer that appends them, the check that
reads them on a recovered VM, and the check's report.

Shared by the Azure provider (which runs the check through the VM Run Command API and parses its
report), the ARM emulator (which answers Run Command with the report of the simulated VM) and
`drsim canary script` (which prints the writer a user installs: canary_scripts/ beside this module).

The writer keeps one log per protected volume, `<volume>/drsim-canary.log`, and appends to it every
interval one line, written whole and synced:

    <sequence> <UTC time> <vmId>        e.g.  "1042 2026-11-20T13:55:00Z 8d7c0d02-5b1e-4a2f-9a53-3f1b5c7e2d10"

`vmId` is the writing VM's id from the Azure Instance Metadata Service (compute/vmId). A VM recovered
from production's disks gets a vmId of its own, so the markers its writer appends after boot are told
apart from production's: only markers of the production VM's vmId, written at or before the incident,
count (`parse_report`). `CORRUPT ` before a marker says the data holds the incident's corruption (the
simulated worlds write such lines; a person may, to rehearse ransomware on real VMs).

A log is read whole (`read_log`): every complete line must be a marker and the sequence must increase
from line to line; only a last line without its newline (the write a crash interrupted) is dropped.
A torn stripe (a volume whose disks were captured at different instants) mixes blocks of two instants
and so fails this; the check also mounts the filesystem read-only and runs its read-only check.

The check prints ONE line (report version 2):

    DRSIM-CANARY {"version": 2, "registry": true,
                  "volumes": [{"path": "/data", "fs": "ext4", "mount": "ok", "check": "clean",
                               "detail": null, "log": "ok", "lines": 5120, "bad_line": 0,
                               "torn_tail": false, "production": "1042 2026-11-20T13:55:00Z <vmId>",
                               "newest": "1100 2026-11-20T14:20:00Z <the recovered VM's vmId>",
                               "corrupt": 0}]}
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from drsim.cloud.api import CanaryReading, VolumeReading
from drsim.errors import ProviderError
from drsim.model.types import OsType
from drsim.times import parse_utc, utc_text

REPORT_PREFIX = "DRSIM-CANARY "
REPORT_VERSION = 2
LOG_NAME = "drsim-canary.log"

LINUX_COMMAND_ID = "RunShellScript"
WINDOWS_COMMAND_ID = "RunPowerShellScript"

IMDS_VM_ID_URL = "http://169.254.169.254/metadata/instance/compute/vmId?api-version=2021-02-01&format=text"
"""Where a VM reads its own vmId (Microsoft Learn, Azure Instance Metadata Service; header Metadata: true)."""

DEFAULT_LINUX_VOLUME = "/var/lib/drsim-canary"  # the writer's state directory, on the OS disk
DEFAULT_WINDOWS_VOLUME = "C:\\ProgramData\\drsim-canary"

_GUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_MARKER = re.compile(rf"(CORRUPT )?([0-9]{{1,15}}) ([0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}T[0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}Z) ({_GUID})")
_GUID_ONLY = re.compile(_GUID)
_LINUX_VOLUME = re.compile(r"/[A-Za-z0-9._@+/-]*")
_WINDOWS_VOLUME = re.compile(r"[A-Za-z]:\\[A-Za-z0-9 ._@+\\-]*")


@dataclass(frozen=True)
class Marker:
    """One line of a canary log."""

    sequence: int
    at: datetime
    vm_uuid: str  # the writing VM's vmId, lower case
    corrupt: bool = False

    def line(self) -> str:
        return f"{'CORRUPT ' if self.corrupt else ''}{self.sequence} {utc_text(self.at, 'seconds')} {self.vm_uuid}"


def parse_marker(line: str) -> Marker | None:
    """The marker a complete log line holds; None when the line is not one."""
    found = _MARKER.fullmatch(line)
    if found is None:
        return None
    try:
        at = parse_utc(found.group(3))
    except ValueError:
        return None
    return Marker(int(found.group(2)), at, found.group(4).lower(), found.group(1) is not None)


@dataclass(frozen=True)
class LogReading:
    """What a canary log holds, read as the check reads it."""

    lines: int  # complete lines
    bad_line: int | None  # the first complete line that is not a marker, or whose sequence does not increase
    torn_tail: bool  # the log ends in a line without its newline (dropped)
    production: Marker | None  # the newest marker of the production VM at or before the cutoff
    newest: Marker | None  # the newest marker of any writer
    corrupt: int  # production's CORRUPT markers (at any time)


def read_log(data: bytes, production: str, not_after: datetime | None = None) -> LogReading:
    """Read a whole log: every complete line a marker, sequences increasing; a torn last line dropped."""
    pieces = data.split(b"\n")
    torn = pieces[-1] != b""
    complete = pieces[:-1]
    bad: int | None = None
    last_sequence = -1
    chosen: Marker | None = None
    newest: Marker | None = None
    corrupt = 0
    wanted = production.lower()
    for number, raw in enumerate(complete, start=1):
        try:
            marker = parse_marker(raw.decode("ascii"))
        except UnicodeDecodeError:
            marker = None
        if marker is None or marker.sequence <= last_sequence:
            bad = bad or number
            continue
        last_sequence = marker.sequence
        newest = marker
        if marker.vm_uuid != wanted:
            continue
        corrupt += marker.corrupt  # at any time: the recovered data holds the corruption
        if not_after is None or marker.at <= not_after:
            chosen = marker
    return LogReading(len(complete), bad, torn, chosen, newest, corrupt)


# ------------------------------------------------------------------------------- the scripts


def _script(name: str) -> str:
    return (resources.files("drsim.cloud") / "canary_scripts" / name).read_text(encoding="utf-8")


def check_script(os: OsType, production_vm: str, not_after: datetime | None) -> list[str]:
    """The check run on a recovered VM: the scripts in canary_scripts/ after two assignments."""
    if not _GUID_ONLY.fullmatch(production_vm):
        raise ProviderError(f"canary check: the production VM's vmId {production_vm!r} is not a GUID")
    cutoff = utc_text(not_after, "seconds") if not_after is not None else ""
    if os is OsType.WINDOWS:
        head = [f"$production_vm = '{production_vm.lower()}'", f"$not_after = '{cutoff}'"]
        body = _script("check.ps1")
    else:
        head = [f"production_vm='{production_vm.lower()}'", f"not_after='{cutoff}'"]
        body = _script("check.sh")
    return head + body.splitlines()


_PARAMETER = re.compile(r"^\$?(production_vm|not_after) ?= ?'([^']*)'$")


def check_parameters(script: Sequence[str]) -> tuple[str, datetime | None] | None:
    """The production vmId and cutoff a check script was given (what the ARM emulator reads)."""
    found: dict[str, str] = {}
    for line in script[:2]:
        match = _PARAMETER.match(line.strip())
        if match is not None:
            found[match.group(1)] = match.group(2)
    if "production_vm" not in found or not _GUID_ONLY.fullmatch(found["production_vm"]):
        return None
    try:
        cutoff = parse_utc(found["not_after"]) if found.get("not_after") else None
    except ValueError:
        return None
    return found["production_vm"].lower(), cutoff


class VolumePathError(ValueError):
    """A volume path the writer cannot take."""


def writer_files(os: OsType, volumes: Sequence[str], interval_s: float) -> dict[str, str]:
    """The writer a user installs on a production VM, by file name: Linux a POSIX shell script and a
    systemd unit; Windows a PowerShell script and the script that registers its scheduled task."""
    if not interval_s > 0:
        raise VolumePathError(f"the interval must be more than 0 seconds, not {interval_s}")
    interval = f"{interval_s:g}"
    if os is OsType.WINDOWS:
        paths = list(volumes) or [DEFAULT_WINDOWS_VOLUME]
        for path in paths:
            if not _WINDOWS_VOLUME.fullmatch(path):
                raise VolumePathError(f"{path!r} is not a volume path the writer takes: a drive and folders, e.g. F:\\sqldata")
        listed = ", ".join("'" + p + "'" for p in paths)
        writer = _script("writer.ps1").replace("@VOLUMES@", listed).replace("@INTERVAL@", interval)
        return {"drsim-canary.ps1": writer, "register-drsim-canary.ps1": _script("register-task.ps1")}
    paths = list(volumes) or [DEFAULT_LINUX_VOLUME]
    for path in paths:
        if not _LINUX_VOLUME.fullmatch(path) or "/../" in f"{path}/":
            raise VolumePathError(f"{path!r} is not a volume path the writer takes: an absolute path of letters, digits and ._@+-")
    unit = (
        _script("drsim-canary.service")
        .replace("@VOLUMES@", " ".join(paths))
        .replace("@MOUNTS@", " ".join(paths))
        .replace("@INTERVAL@", interval)
    )
    return {"drsim-canary": _script("writer.sh"), "drsim-canary.service": unit}


# ------------------------------------------------------------------------------- the report


def _field(volume: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = volume.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise ProviderError(f"{where}: {key} is {value!r}")
    return value


def _volume_reading(vm_id: str, volume: Any, production: str, not_after: datetime | None) -> tuple[VolumeReading, Marker | None, bool]:
    where = f"canary check on {vm_id}"
    if not isinstance(volume, Mapping) or not isinstance(volume.get("path"), str):
        raise ProviderError(f"{where}: a volume of the report has no path")
    path = volume["path"]
    where = f"{where}, volume {path}"
    mount = _field(volume, "mount", str, where)
    check = _field(volume, "check", str, where)
    log = _field(volume, "log", str, where)
    detail = volume.get("detail") if isinstance(volume.get("detail"), str) else None
    bad_line = _field(volume, "bad_line", int, where)
    lines = _field(volume, "lines", int, where)
    corrupt = _field(volume, "corrupt", int, where)
    marker: Marker | None = None
    raw = volume.get("production")
    if raw is not None:
        marker = parse_marker(raw) if isinstance(raw, str) else None
        if marker is None:
            raise ProviderError(f"{where}: the production marker {raw!r} is not a marker line")
        # The script filters already; the reader does not trust it: another VM's marker, or one written
        # after the incident, never stands for production's data.
        if marker.vm_uuid != production or (not_after is not None and marker.at > not_after):
            raise ProviderError(f"{where}: the script returned {raw!r} as production's marker (production is {production})")
    newest = parse_marker(volume["newest"]) if isinstance(volume.get("newest"), str) else None
    separator = "/" if path.startswith("/") else "\\"
    log_name = path.rstrip("/\\") + separator + LOG_NAME
    problem: str | None = None
    if mount == "missing":
        problem = f"{path} is not on the recovered VM: {detail or 'its filesystem was not found'}"
    elif mount == "failed":
        problem = f"{path} does not mount read-only: {detail or 'mount failed'}"
    elif log == "missing":
        problem = f"{log_name} is missing on the recovered data"
    elif log == "unreadable":
        problem = f"{log_name} cannot be read: {detail or 'read failed'}"
    elif log != "ok":
        raise ProviderError(f"{where}: log is {log!r}")
    elif bad_line:
        problem = f"{log_name} is damaged at line {bad_line} of {lines} (a torn stripe or lost writes)"
    elif check in ("errors", "failed"):
        problem = f"the read-only filesystem check of {path} failed: {detail or check}"
    elif check == "unchecked":
        problem = f"the filesystem of {path} could not be checked read-only: {detail or 'no check for it'}"
    elif check not in ("clean", "booted"):
        raise ProviderError(f"{where}: check is {check!r}")
    elif marker is None:
        others = f"; its newest marker is {newest.vm_uuid}'s" if newest is not None else ""
        problem = f"{log_name} holds no marker written by the production VM ({production}) by the incident{others}"
    reading = VolumeReading(
        name=path,
        disk_instants=(marker.at if marker is not None else None,),
        consistent=problem is None,
        problem=problem,
    )
    return reading, marker, corrupt > 0


def parse_report(vm_id: str, output: str, production: str, not_after: datetime | None = None) -> CanaryReading:
    """The reading in a Run Command output, counting only markers of the production VM `production`
    (its vmId) written at or before `not_after`; ProviderError when the output holds no valid report."""
    production = production.lower()
    line = next((ln.strip() for ln in output.splitlines() if ln.strip().startswith(REPORT_PREFIX)), None)
    if line is None:
        excerpt = output.strip()[:300] or "(empty)"
        raise ProviderError(f"canary check on {vm_id}: the script printed no {REPORT_PREFIX.strip()} line; output: {excerpt}")
    try:
        report = json.loads(line[len(REPORT_PREFIX) :])
    except ValueError as exc:
        raise ProviderError(f"canary check on {vm_id}: the report is not JSON: {exc}") from exc
    if not isinstance(report, Mapping) or report.get("version") != REPORT_VERSION:
        raise ProviderError(f"canary check on {vm_id}: expected a version {REPORT_VERSION} report, got {line[:200]}")
    if report.get("registry") is not True:
        missing = VolumeReading(
            name="(canary writer)",
            disk_instants=(None,),
            consistent=False,
            problem="no canary writer registered a volume on this VM's production disks: install it (docs/azure.md)",
        )
        return CanaryReading(vm_id, True, None, None, False, (missing,))
    raw_volumes = report.get("volumes")
    if isinstance(raw_volumes, Mapping):
        raw_volumes = [raw_volumes]  # PowerShell's ConvertTo-Json may write a one-element array as its element
    if not isinstance(raw_volumes, Sequence) or isinstance(raw_volumes, str):
        raise ProviderError(f"canary check on {vm_id}: volumes is not a list")
    readings = [_volume_reading(vm_id, v, production, not_after) for v in raw_volumes]
    markers = [m for _, m, _ in readings if m is not None]
    newest = max(markers, key=lambda m: (m.at, m.sequence)) if markers else None
    volumes = tuple(r for r, _, _ in readings)
    if not volumes:
        volumes = (VolumeReading("(canary writer)", (None,), False, "the canary writer registered no volume"),)
    return CanaryReading(
        vm_id=vm_id,
        reachable=True,
        last_marker_at=newest.at if newest is not None else None,
        last_sequence=newest.sequence if newest is not None else None,
        corrupted=any(c for _, _, c in readings),
        volumes=volumes,
    )


def render_report(volumes: Sequence[Mapping[str, Any]]) -> str:
    """The report line the check prints for these volumes (what the ARM emulator answers)."""
    return REPORT_PREFIX + json.dumps({"version": REPORT_VERSION, "registry": True, "volumes": list(volumes)}, separators=(",", ":"))


def volume_report(
    path: str,
    *,
    production: Marker | None,
    newest: Marker | None,
    lines: int,
    fs: str = "ext4",
    clean: bool = True,
    detail: str | None = None,
) -> dict[str, Any]:
    """One volume of a report, as the check prints it for a volume it mounted, checked and read."""
    return {
        "path": path,
        "fs": fs,
        "mount": "ok",
        "check": "clean" if clean else "errors",
        "detail": detail,
        "log": "ok",
        "lines": lines,
        "bad_line": 0,
        "torn_tail": False,
        "production": production.line() if production is not None else None,
        "newest": newest.line() if newest is not None else None,
        "corrupt": int(production is not None and production.corrupt),
    }
