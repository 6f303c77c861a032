# drsim canary writer (Windows), from `drsim canary script --os windows` (docs/azure.md, "The canary writer").
# Run as SYSTEM by the scheduled task drsim-canary (register-drsim-canary.ps1) at startup.
#
# Every IntervalSeconds it appends one marker line to <volume>\drsim-canary.log for every volume:
#     <sequence> <UTC time> <vmId>          e.g.  1042 2026-11-20T13:55:00Z 8d7c0d02-5b1e-4a2f-9a53-3f1b5c7e2d10
# vmId is this VM's id from the Azure Instance Metadata Service, read once at start and never stored:
# a VM recovered from these disks gets its own vmId, so drsim tells its markers from production's.
# Each line is one Write of the whole line in append mode, then Flush($true) (FlushFileBuffers); a line
# torn by a crash is cut off at the next start, and the sequence continues from the log's last line.
param(
  [string[]] $Volumes = @(@VOLUMES@),
  [double] $IntervalSeconds = @INTERVAL@
)
$ErrorActionPreference = 'Stop'
$imds = if ($env:DRSIM_CANARY_IMDS_URL) { $env:DRSIM_CANARY_IMDS_URL } else { 'http://169.254.169.254/metadata/instance/compute/vmId?api-version=2021-02-01&format=text' }
$state = if ($env:DRSIM_CANARY_STATE) { $env:DRSIM_CANARY_STATE } else { Join-Path $env:ProgramData 'drsim-canary' }
$keep = 200000
New-Item -ItemType Directory -Force -Path $state | Out-Null

foreach ($volume in $Volumes) {
  if (-not (Test-Path -LiteralPath $volume -PathType Container)) { throw "drsim-canary: $volume is not a directory (is the volume online?)" }
}

# The metadata service must be reached without a proxy (instance-metadata-service); .NET's request
# with Proxy = $null works in Windows PowerShell 5.1 as in PowerShell 7.
$vmId = $null
while (-not $vmId) {
  try {
    $request = [System.Net.HttpWebRequest]::Create($imds)
    $request.Proxy = $null
    $request.Timeout = 5000
    $request.Headers.Add('Metadata', 'true')
    $response = $request.GetResponse()
    try { $text = (New-Object System.IO.StreamReader($response.GetResponseStream())).ReadToEnd().Trim().ToLowerInvariant() }
    finally { $response.Dispose() }
    if ($text -match '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$') { $vmId = $text }
  } catch { }
  if (-not $vmId) { Write-Warning "drsim-canary: no vmId from the instance metadata service ($imds) yet; retrying in 5 s"; Start-Sleep -Seconds 5 }
}

function Append-Line([string] $path, [byte[]] $bytes) {
  $stream = New-Object System.IO.FileStream($path, [System.IO.FileMode]::Append, [System.IO.FileAccess]::Write, [System.IO.FileShare]::ReadWrite, 4096, [System.IO.FileOptions]::WriteThrough)
  try { $stream.Write($bytes, 0, $bytes.Length); $stream.Flush($true) } finally { $stream.Dispose() }
}

# The volumes this writer protects, for the check drsim runs on a recovered VM (replaced atomically).
$registry = Join-Path $state 'volumes.txt'
Set-Content -LiteralPath "$registry.new" -Value $Volumes -Encoding ascii
Move-Item -LiteralPath "$registry.new" -Destination $registry -Force

# Cut a torn last line off (a crash mid-write), and continue the sequence from the last marker.
$sequence = [long]0
foreach ($volume in $Volumes) {
  $log = Join-Path $volume 'drsim-canary.log'
  if (-not (Test-Path -LiteralPath $log)) { continue }
  $bytes = [System.IO.File]::ReadAllBytes($log)
  $end = $bytes.Length
  while ($end -gt 0 -and $bytes[$end - 1] -ne 10) { $end-- }
  if ($end -ne $bytes.Length) {
    $stream = New-Object System.IO.FileStream($log, [System.IO.FileMode]::Open, [System.IO.FileAccess]::Write)
    try { $stream.SetLength($end); $stream.Flush($true) } finally { $stream.Dispose() }
  }
  $lines = [System.Text.Encoding]::ASCII.GetString($bytes, 0, $end) -split "`n" | Where-Object { $_ }
  if ($lines) {
    $last = ([string]@($lines)[-1]) -replace '^CORRUPT ', ''
    $number = ($last -split ' ')[0]
    if ($number -match '^\d+$' -and [long]$number -gt $sequence) { $sequence = [long]$number }
  }
}

while ($true) {
  $sequence++
  $line = "$sequence $([DateTime]::UtcNow.ToString('yyyy-MM-ddTHH:mm:ssZ', [System.Globalization.CultureInfo]::InvariantCulture)) $vmId`n"
  $bytes = [System.Text.Encoding]::ASCII.GetBytes($line)
  foreach ($volume in $Volumes) {
    $log = Join-Path $volume 'drsim-canary.log'
    try { Append-Line $log $bytes } catch { Write-Warning "drsim-canary: cannot append to ${log}: $_" }
    if ($sequence % 1000 -eq 0 -and (Get-Item -LiteralPath $log).Length -gt 70 * $keep) {
      $tail = Get-Content -LiteralPath $log -Tail ($keep / 2)
      [System.IO.File]::WriteAllText("$log.new", (($tail -join "`n") + "`n"), [System.Text.Encoding]::ASCII)
      Move-Item -LiteralPath "$log.new" -Destination $log -Force
    }
  }
  Start-Sleep -Milliseconds ([int]($IntervalSeconds * 1000))
}
