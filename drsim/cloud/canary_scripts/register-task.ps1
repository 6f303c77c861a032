# Registers the drsim canary writer as the scheduled task drsim-canary (run as SYSTEM at startup,
# restarted when it stops), from `drsim canary script --os windows` (docs/azure.md). Run elevated.
$ErrorActionPreference = 'Stop'
$script = Join-Path $env:ProgramFiles 'drsim-canary\drsim-canary.ps1'
$action = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument "-NoProfile -NonInteractive -ExecutionPolicy Bypass -File `"$script`""
$trigger = New-ScheduledTaskTrigger -AtStartup
$principal = New-ScheduledTaskPrincipal -UserId 'SYSTEM' -LogonType ServiceAccount -RunLevel Highest
# No time limit (PT0S); restarted every minute if it stops; one instance only.
$settings = New-ScheduledTaskSettingsSet -ExecutionTimeLimit ([TimeSpan]::Zero) -RestartCount 9999 -RestartInterval (New-TimeSpan -Minutes 1) -MultipleInstances IgnoreNew -StartWhenAvailable
Register-ScheduledTask -TaskName 'drsim-canary' -Description 'drsim canary writer (docs/azure.md)' -Action $action -Trigger $trigger -Principal $principal -Settings $settings -Force | Out-Null
Start-ScheduledTask -TaskName 'drsim-canary'
