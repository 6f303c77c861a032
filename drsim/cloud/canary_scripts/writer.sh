#!/bin/sh
# drsim canary writer (Linux), from `drsim canary script --os linux` (docs/azure.md, "The canary writer").
# Usage: drsim-canary VOLUME_PATH...   (the systemd unit drsim-canary.service runs it as root)
#
# Every INTERVAL seconds it appends one marker line to VOLUME_PATH/drsim-canary.log for every volume:
#     <sequence> <UTC time> <vmId>          e.g.  1042 2026-11-20T13:55:00Z 8d7c0d02-5b1e-4a2f-9a53-3f1b5c7e2d10
# vmId is this VM's id from the Azure Instance Metadata Service, read once at start and never stored:
# a VM recovered from these disks gets its own vmId, so drsim tells its markers from production's.
# Each line is one write(2) of the whole line with O_APPEND, then fsync (dd oflag=append conv=fsync);
# a line torn by a crash is cut off at the next start, and the sequence continues from the log's last line.
set -u
interval="${DRSIM_CANARY_INTERVAL:-1}"
imds="${DRSIM_CANARY_IMDS_URL:-http://169.254.169.254/metadata/instance/compute/vmId?api-version=2021-02-01&format=text}"
state="${DRSIM_CANARY_STATE:-/var/lib/drsim-canary}"
keep="${DRSIM_CANARY_KEEP_LINES:-200000}"   # a log longer than this keeps its newest half
LC_ALL=C
export LC_ALL

say() { echo "drsim-canary: $*" >&2; }
[ "$#" -gt 0 ] || { say "usage: $0 VOLUME_PATH..."; exit 2; }
mkdir -p "$state"
for vol in "$@"; do
  [ -d "$vol" ] || { say "$vol is not a directory (is the volume mounted?)"; exit 1; }
done
trap 'exit 0' TERM INT HUP

vm_id() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS --noproxy '*' --max-time 5 -H 'Metadata: true' "$imds"
  else
    wget -q -T 5 --no-proxy --header='Metadata: true' -O - "$imds"
  fi
}
vmid=""
while :; do
  vmid=$(vm_id 2>/dev/null | tr -d ' \r\n' | tr 'A-F' 'a-f')
  if printf '%s\n' "$vmid" | grep -Eqx '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'; then break; fi
  say "no vmId from the instance metadata service ($imds) yet; retrying in 5 s"
  sleep 5
done

# The volumes this writer protects, for the check drsim runs on a recovered VM: path, filesystem UUID,
# mount point (replaced atomically).
: > "$state/volumes.new"
for vol in "$@"; do
  printf '%s\t%s\t%s\n' "$vol" "$(findmnt -n -o UUID --target "$vol" 2>/dev/null)" \
    "$(findmnt -n -o TARGET --target "$vol" 2>/dev/null)" >> "$state/volumes.new"
done
sync "$state/volumes.new" && mv -f "$state/volumes.new" "$state/volumes" && sync "$state"

# Cut a torn last line off (a crash mid-write), and continue the sequence from the last marker.
seq=0
for vol in "$@"; do
  log="$vol/drsim-canary.log"
  [ -s "$log" ] || continue
  if [ "$(tail -c 1 "$log" | wc -l)" -eq 0 ]; then
    size=$(wc -c < "$log"); torn=$(tail -n 1 "$log" | wc -c)
    truncate -s "$((size - torn))" "$log" && sync "$log"
  fi
  last=$(tail -n 1 "$log"); last=${last#CORRUPT }; last=${last%% *}
  case "$last" in ''|*[!0-9]*) ;; *) if [ "$last" -gt "$seq" ]; then seq=$last; fi ;; esac
done

say "writing markers as vmId $vmid every $interval s to $*"
while :; do
  seq=$((seq + 1))
  line="$seq $(date -u +%Y-%m-%dT%H:%M:%SZ) $vmid"
  for vol in "$@"; do
    log="$vol/drsim-canary.log"
    printf '%s\n' "$line" | dd of="$log" oflag=append conv=notrunc,fsync iflag=fullblock bs=4096 status=none \
      || say "cannot append to $log"
    if [ "$((seq % 1000))" -eq 0 ] && [ "$(wc -l < "$log")" -gt "$keep" ]; then
      tail -n "$((keep / 2))" "$log" > "$log.new" && sync "$log.new" && mv -f "$log.new" "$log" && sync "$vol"
    fi
  done
  sleep "$interval"
done
