# drsim canary check (Windows): run as SYSTEM through Run Command (RunPowerShellScript) on a recovered VM.
# drsim prepends two assignments: $production_vm (the vmId of the production VM whose markers count)
# and $not_after (the incident: later markers do not count). It prints ONE line, the report
# "DRSIM-CANARY {...}" that drsim/cloud/canary.py parses (docs/azure.md, "The canary check").
# Per registered volume: the volume behind its drive letter is online and healthy, Repair-Volume -Scan
# (read-only: it repairs nothing) finds no errors, and every complete line of the log is a marker with
# an increasing sequence (a torn stripe mixes blocks of two instants and fails this).
$state = if ($env:DRSIM_CANARY_STATE) { $env:DRSIM_CANARY_STATE } else { Join-Path $env:ProgramData 'drsim-canary' }
$registry = Join-Path $state 'volumes.txt'
$marker = '^(CORRUPT )?(\d{1,15}) (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z) ([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$'
if (-not (Test-Path -LiteralPath $registry)) {
  Write-Output 'DRSIM-CANARY {"version":2,"registry":false,"volumes":[]}'
  exit 0
}
$volumes = @()
foreach ($path in Get-Content -LiteralPath $registry | Where-Object { $_ }) {
  $entry = [ordered]@{ path = $path; fs = $null; mount = 'missing'; check = 'unchecked'; detail = $null; log = 'missing';
                       lines = 0; bad_line = 0; torn_tail = $false; production = $null; newest = $null; corrupt = 0 }
  $volume = $null
  try { $volume = Get-Volume -DriveLetter ($path.Substring(0, 1)) -ErrorAction Stop } catch { $entry.detail = "no volume behind $($path.Substring(0, 2)): $_" }
  if ($volume) {
    $entry.fs = $volume.FileSystem
    if ($volume.HealthStatus -ne 'Healthy') { $entry.mount = 'failed'; $entry.detail = "volume $($path.Substring(0, 2)) is $($volume.HealthStatus)" }
    else {
      $entry.mount = 'ok'
      $scan = Repair-Volume -DriveLetter $volume.DriveLetter -Scan -ErrorAction SilentlyContinue
      if ("$scan" -eq 'NoErrorsFound') { $entry.check = 'clean' }
      elseif ($scan) { $entry.check = 'errors'; $entry.detail = "Repair-Volume -Scan: $scan" }
      else { $entry.check = 'failed'; $entry.detail = 'Repair-Volume -Scan did not run' }
    }
  }
  $log = Join-Path $path 'drsim-canary.log'
  if ($entry.mount -eq 'ok' -and (Test-Path -LiteralPath $log)) {
    try {
      $bytes = [System.IO.File]::ReadAllBytes($log)
      $entry.log = 'ok'
      $text = [System.Text.Encoding]::ASCII.GetString($bytes)
      $lines = $text -split "`n"
      if ($bytes.Length -gt 0 -and $bytes[$bytes.Length - 1] -ne 10) { $entry.torn_tail = $true }
      $complete = $lines.Count - 1
      $last = [long]-1
      for ($k = 0; $k -lt $complete; $k++) {
        $m = [regex]::Match($lines[$k], $marker)
        if (-not $m.Success -or [long]$m.Groups[2].Value -le $last) { if ($entry.bad_line -eq 0) { $entry.bad_line = $k + 1 }; continue }
        $last = [long]$m.Groups[2].Value
        $entry.newest = $lines[$k]
        if ($m.Groups[4].Value -eq $production_vm) {
          if ($m.Groups[1].Success) { $entry.corrupt++ }
          if (-not $not_after -or [string]::CompareOrdinal($m.Groups[3].Value, $not_after) -le 0) { $entry.production = $lines[$k] }
        }
      }
      $entry.lines = $complete
    } catch { $entry.log = 'unreadable'; $entry.detail = "$_" }
  }
  $volumes += $entry
}
$report = [ordered]@{ version = 2; registry = $true; volumes = $volumes }
Write-Output ('DRSIM-CANARY ' + ($report | ConvertTo-Json -Compress -Depth 4))
