# drsim canary check (Linux): run as root through Run Command (RunShellScript) on a recovered VM.
# drsim prepends two assignments: production_vm (the vmId of the production VM whose markers count)
# and not_after (the incident: later markers do not count). It prints ONE line, the report
# "DRSIM-CANARY {...}" that drsim/cloud/canary.py parses (docs/azure.md, "The canary check").
#
# For every volume the writer registered on production ($state/volumes: path, filesystem UUID, mount
# point), it finds the filesystem by its UUID; unless the boot mounted it, mounts it read-only on a
# private directory; reads the canary log there (every complete line must be a marker, sequences increasing: a torn stripe mixes
# blocks of two instants and fails this), unmounts it, and runs the filesystem's read-only check
# (e2fsck -n under fsfreeze, xfs_repair -n or xfs_scrub -n, btrfs check --readonly or scrub -r).
export LC_ALL=C
state="${DRSIM_CANARY_STATE:-/var/lib/drsim-canary}"
registry="$state/volumes"
tab=$(printf '\t')

text() { printf '%s' "$1" | tr -d '"\\' | tr '\n\r\t' '   ' | cut -c 1-200; }

# read_log LOG: five lines: complete lines, first bad line (0: none), torn tail (0/1), newest production
# marker at or before not_after, newest marker of any writer, production CORRUPT markers (any time: the
# recovered data holds the corruption).
read_log() {
  torn=0
  if [ -s "$1" ] && [ "$(tail -c 1 "$1" | wc -l)" -eq 0 ]; then torn=1; fi
  tr '\000' '#' < "$1" | awk -v torn="$torn" -v prod="$production_vm" -v cutoff="$not_after" '
    function valid(line,   f, n, i, vm) {
      n = split(line, f, " ")
      i = 1; corrupt = 0
      if (n == 4 && f[1] == "CORRUPT") { corrupt = 1; i = 2 } else if (n != 3) return 0
      if (length(line) != length(f[i]) + length(f[i + 1]) + length(f[i + 2]) + 2 + 8 * corrupt) return 0
      if (f[i] !~ /^[0-9]+$/ || length(f[i]) > 15) return 0
      if (length(f[i + 1]) != 20 || f[i + 1] !~ /^[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]Z$/) return 0
      vm = tolower(f[i + 2])
      if (length(vm) != 36 || vm !~ /^[0-9a-f]+-[0-9a-f]+-[0-9a-f]+-[0-9a-f]+-[0-9a-f]+$/) return 0
      if (substr(vm, 9, 1) != "-" || substr(vm, 14, 1) != "-" || substr(vm, 19, 1) != "-" || substr(vm, 24, 1) != "-") return 0
      seq = f[i] + 0; at = f[i + 1]; writer = vm
      return 1
    }
    { lines[NR] = $0 }
    END {
      total = NR - (torn ? 1 : 0); bad = 0; last = -1; prodline = ""; newest = ""; corrupts = 0
      for (k = 1; k <= total; k++) {
        if (!valid(lines[k]) || seq <= last) { if (!bad) bad = k; continue }
        last = seq; newest = lines[k]
        if (writer != tolower(prod)) continue
        corrupts += corrupt
        if (cutoff == "" || at <= cutoff) prodline = lines[k]
      }
      print total; print bad; print torn; print prodline; print newest; print corrupts
    }'
}

if [ ! -r "$registry" ]; then
  printf 'DRSIM-CANARY {"version":2,"registry":false,"volumes":[]}\n'
  exit 0
fi

volumes=""
thaw=""
trap '[ -n "$thaw" ] && fsfreeze --unfreeze "$thaw"' EXIT
while IFS="$tab" read -r path uuid target; do
  [ -n "$path" ] || continue
  fs=""; mounted="unknown"; check="unchecked"; detail=""; log="missing"
  total=0; bad=0; torn=0; prodline=""; newest=""; corrupts=0
  dev=""; live=""; unmount=""
  if [ -n "$uuid" ]; then dev=$(blkid -U "$uuid" 2>/dev/null || blkid -t "UUID=$uuid" -o device 2>/dev/null | head -n 1); fi
  if [ -z "$uuid" ]; then
    detail="the writer recorded no filesystem UUID for $path: read in place, not mounted read-only"
    where="$path"
  elif [ -z "$dev" ]; then
    mounted="missing"; detail="no block device holds filesystem UUID $uuid (a disk of the volume is missing?)"
    where=""
  else
    fs=$(blkid -o value -s TYPE "$dev" 2>/dev/null)
    live=$(findmnt -n -o TARGET --source "$dev" 2>/dev/null | head -n 1)
    rel="${path#"$target"}"
    if [ -n "$live" ]; then
      # The boot mounted it (as production's fstab says): read it there.
      mounted="ok"; where="${live%/}/${rel#/}"
    else
      mnt=$(mktemp -d "${TMPDIR:-/tmp}/drsim-canary-check.XXXXXX")
      if out=$(mount -o ro "$dev" "$mnt" 2>&1); then
        mounted="ok"; unmount="$mnt"; where="$mnt/${rel#/}"
      else
        mounted="failed"; detail="$dev ($fs) does not mount read-only: $out"; where=""; rmdir "$mnt"
      fi
    fi
  fi
  if [ -n "$where" ]; then
    file="${where%/}/drsim-canary.log"
    if [ ! -e "$file" ]; then log="missing"
    elif [ ! -r "$file" ] || ! head -c 1 "$file" >/dev/null 2>&1; then log="unreadable"
    else
      log="ok"
      { read -r total; read -r bad; read -r torn; read -r prodline; read -r newest; read -r corrupts; } <<READ
$(read_log "$file")
READ
    fi
  fi
  if [ -n "$unmount" ]; then
    umount "$unmount" 2>/dev/null || umount -l "$unmount" 2>/dev/null
    rmdir "$unmount" 2>/dev/null
  fi
  if [ "$mounted" = "ok" ] && [ -n "$dev" ]; then
    case "$fs" in
      ext2|ext3|ext4)
        if [ "$live" = "/" ]; then check="booted"; detail="the root filesystem: mounted by the boot, in use, not checked offline"
        else
          if [ -n "$live" ] && fsfreeze --freeze "$live" 2>/dev/null; then thaw="$live"; fi
          e2fsck -f -n "$dev" >/dev/null 2>&1; rc=$?
          if [ -n "$thaw" ]; then fsfreeze --unfreeze "$thaw"; thaw=""; fi
          case "$rc" in 0) check="clean" ;; 4) check="errors"; detail="e2fsck -n found errors on $dev (exit 4)" ;; *) check="failed"; detail="e2fsck -n could not check $dev (exit $rc)" ;; esac
        fi ;;
      xfs)
        if [ -z "$live" ]; then
          xfs_repair -n "$dev" >/dev/null 2>&1; rc=$?
          case "$rc" in 0) check="clean" ;; 1) check="errors"; detail="xfs_repair -n found errors on $dev" ;; *) check="failed"; detail="xfs_repair -n could not check $dev (exit $rc)" ;; esac
        elif command -v xfs_scrub >/dev/null 2>&1; then
          xfs_scrub -n "$live" >/dev/null 2>&1; rc=$?
          case "$rc" in 0) check="clean" ;; 1) check="errors"; detail="xfs_scrub -n found corruption on $live" ;; *) check="failed"; detail="xfs_scrub -n could not check $live (exit $rc)" ;; esac
        else
          detail="xfs on $live is mounted: xfs_repair cannot check it and xfs_scrub is not installed"
        fi ;;
      btrfs)
        if [ -n "$live" ]; then btrfs scrub start -B -r "$live" >/dev/null 2>&1; rc=$?; else btrfs check --readonly "$dev" >/dev/null 2>&1; rc=$?; fi
        if [ "$rc" -eq 0 ]; then check="clean"; else check="errors"; detail="btrfs found errors on $dev (exit $rc)"; fi ;;
      *) detail="no read-only check known for a $fs filesystem" ;;
    esac
  fi
  q() { if [ -n "$1" ]; then printf '"%s"' "$(text "$1")"; else printf 'null'; fi; }
  volumes="$volumes${volumes:+,}{\"path\":$(q "$path"),\"fs\":$(q "$fs"),\"mount\":\"$mounted\",\"check\":\"$check\",\"detail\":$(q "$detail"),\"log\":\"$log\",\"lines\":${total:-0},\"bad_line\":${bad:-0},\"torn_tail\":$([ "${torn:-0}" = 1 ] && echo true || echo false),\"production\":$(q "$prodline"),\"newest\":$(q "$newest"),\"corrupt\":${corrupts:-0}}"
done < "$registry"
printf 'DRSIM-CANARY {"version":2,"registry":true,"volumes":[%s]}\n' "$volumes"
