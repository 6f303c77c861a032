"""The canary protocol: the marker logs, the script that reads them on a recovered VM, and its report.

Shared by the Azure provider (which runs the script through the VM Run Command API and parses the
report) and the ARM emulator (which answers Run Command with the report of the simulated VM).

The workload on every protected VM keeps, for each guest volume, a directory of marker files
(`/var/lib/drsim-canary/<volume>/` on Linux, `C:\\ProgramData\\drsim-canary\\<volume>\\` on
Windows; a symlink or junction into the volume). Per disk of the volume it appends one line per
write to `<disk>.log`:

    <sequence> <ISO 8601 UTC time>            e.g.  "1042 2026-11-20T13:55:00Z"

and a line `CORRUPT <sequence> <time>` when the drill's injected corruption reaches the data. The
canary script (`LINUX_SCRIPT`, `WINDOWS_SCRIPT`) runs on the recovered VM and prints ONE line:

    DRSIM-CANARY {"version": 1, "last_sequence": 1042, "last_marker_at": "2026-11-20T13:55:00Z",
                  "corrupted": false,
                  "volumes": [{"name": "sqldata", "disks": ["2026-11-20T13:55:00Z", null],
                               "consistent": false}]}

`disks` holds the newest marker time per disk of the volume (null: no readable marker). A volume
is consistent when every disk holds the same newest instant (a striped volume restored from disks
captured at different instants is not). `parse_report` reads that line from Run Command output;
`render_report` writes it (the ARM emulator answers runCommand with it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from drsim.cloud.api import CanaryReading, VolumeReading
from drsim.errors import ProviderError
from drsim.times import parse_utc, utc_text

REPORT_PREFIX = "DRSIM-CANARY "
REPORT_VERSION = 1

LINUX_COMMAND_ID = "RunShellScript"
WINDOWS_COMMAND_ID = "RunPowerShellScript"

# Run as root by the Linux guest agent (RunShellScript); CANARY_ROOT may be overridden for a test.
LINUX_SCRIPT = r"""#!/bin/bash
root="${CANARY_ROOT:-/var/lib/drsim-canary}"
last_seq=""; last_at=""; corrupted=false; volumes=""
for vol in "$root"/*/; do
  [ -d "$vol" ] || continue
  name=$(basename "$vol"); disks=""; first=""; consistent=true
  for log in "$vol"*.log; do
    [ -f "$log" ] || continue
    line=$(grep -E '^(CORRUPT )?[0-9]+ [0-9TZ:.-]+$' "$log" | tail -n 1)
    case "$line" in CORRUPT*) corrupted=true; line=${line#CORRUPT } ;; esac
    if [ -z "$line" ]; then at=null; consistent=false; else
      seq=${line%% *}; stamp=${line#* }; at="\"$stamp\""
      if [ -z "$last_seq" ] || [ "$seq" -gt "$last_seq" ]; then last_seq=$seq; last_at=$stamp; fi
    fi
    if [ -z "$first" ]; then first=$at; elif [ "$at" != "$first" ]; then consistent=false; fi
    disks="$disks${disks:+,}$at"
  done
  volumes="$volumes${volumes:+,}{\"name\":\"$name\",\"disks\":[$disks],\"consistent\":$consistent}"
done
printf 'DRSIM-CANARY {"version":1,"last_sequence":%s,"last_marker_at":%s,"corrupted":%s,"volumes":[%s]}\n' \
  "${last_seq:-null}" "$( [ -n "$last_at" ] && printf '"%s"' "$last_at" || printf null )" "$corrupted" "$volumes"
"""

# Run as SYSTEM by the Windows guest agent (RunPowerShellScript).
WINDOWS_SCRIPT = r"""
$root = if ($env:CANARY_ROOT) { $env:CANARY_ROOT } else { 'C:\ProgramData\drsim-canary' }
$lastSeq = $null; $lastAt = $null; $corrupted = $false; $volumes = @()
foreach ($vol in Get-ChildItem -Path $root -Directory -ErrorAction SilentlyContinue) {
  $disks = @(); $consistent = $true
  foreach ($log in Get-ChildItem -Path $vol.FullName -Filter *.log) {
    $line = Get-Content $log.FullName | Where-Object { $_ -match '^(CORRUPT )?\d+ [0-9TZ:.-]+$' } | Select-Object -Last 1
    $at = $null
    if ($line) {
      if ($line.StartsWith('CORRUPT ')) { $corrupted = $true; $line = $line.Substring(8) }
      $seq, $at = $line -split ' ', 2
      if ($lastSeq -eq $null -or [long]$seq -gt $lastSeq) { $lastSeq = [long]$seq; $lastAt = $at }
    } else { $consistent = $false }
    if ($disks.Count -gt 0 -and $disks[0] -ne $at) { $consistent = $false }
    $disks += $at
  }
  $volumes += [ordered]@{ name = $vol.Name; disks = $disks; consistent = $consistent }
}
$report = [ordered]@{ version = 1; last_sequence = $lastSeq; last_marker_at = $lastAt; corrupted = $corrupted; volumes = $volumes }
Write-Output ('DRSIM-CANARY ' + ($report | ConvertTo-Json -Compress -Depth 4))
"""


def _time(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProviderError(f"canary report: {where} is not a time string: {value!r}")
    try:
        return parse_utc(value)
    except ValueError as exc:
        raise ProviderError(f"canary report: {where} is not an ISO 8601 time with a zone: {value!r}") from exc


def parse_report(vm_id: str, output: str) -> CanaryReading:
    """The reading in a Run Command output; ProviderError when the output holds no valid report."""
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
    sequence = report.get("last_sequence")
    if sequence is not None and (not isinstance(sequence, int) or isinstance(sequence, bool)):
        raise ProviderError(f"canary check on {vm_id}: last_sequence is not an integer: {sequence!r}")
    corrupted = report.get("corrupted", False)
    if not isinstance(corrupted, bool):
        raise ProviderError(f"canary check on {vm_id}: corrupted is not true or false: {corrupted!r}")
    volumes = []
    raw_volumes = report.get("volumes", [])
    if not isinstance(raw_volumes, Sequence) or isinstance(raw_volumes, str):
        raise ProviderError(f"canary check on {vm_id}: volumes is not a list")
    for index, volume in enumerate(raw_volumes):
        if not isinstance(volume, Mapping) or not isinstance(volume.get("name"), str):
            raise ProviderError(f"canary check on {vm_id}: volume {index} has no name")
        disks = volume.get("disks", [])
        if isinstance(disks, str) or not isinstance(disks, Sequence):
            disks = [disks]  # PowerShell's ConvertTo-Json writes a one-element array as a scalar
        instants = tuple(_time(d, f"volume {volume['name']} disk {i}") for i, d in enumerate(disks))
        consistent = volume.get("consistent")
        if not isinstance(consistent, bool):
            raise ProviderError(f"canary check on {vm_id}: volume {volume['name']} has no consistent flag")
        volumes.append(VolumeReading(name=volume["name"], disk_instants=instants, consistent=consistent))
    return CanaryReading(
        vm_id=vm_id,
        reachable=True,
        last_marker_at=_time(report.get("last_marker_at"), "last_marker_at"),
        last_sequence=sequence,
        corrupted=corrupted,
        volumes=tuple(volumes),
    )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else utc_text(moment)


def render_report(reading: CanaryReading) -> str:
    """The report line the canary script prints for this reading (what the ARM emulator answers)."""
    report = {
        "version": REPORT_VERSION,
        "last_sequence": reading.last_sequence,
        "last_marker_at": _iso(reading.last_marker_at),
        "corrupted": reading.corrupted,
        "volumes": [{"name": v.name, "disks": [_iso(d) for d in v.disk_instants], "consistent": v.consistent} for v in reading.volumes],
    }
    return REPORT_PREFIX + json.dumps(report, separators=(",", ":"))
