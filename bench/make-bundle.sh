#!/usr/bin/env bash
# Makes an N-host evidence bundle for the fleet benchmark (bench/fleet.sh): one folder per host,
# host00001/ ... hostNNNNN/, each with a SYSTEM and a SOFTWARE hive, hard-linked (never copied)
# from the corpus, so that 10,000 hosts take seconds and no extra disk space.
#
# Usage: bash bench/make-bundle.sh DIR N [--logs] [--force]
#   --logs   every host also gets the same handful of corpus EVTX logs (see LOGS below)
#   --force  DIR may already hold a bundle made by this script: its host folders are replaced
#            (anything else in DIR makes the script refuse, --force or not)
# Environment: HIVEWARD_CORPUS (default ../shared/corpus, relative to the repository root).
#
# The hives:
# - SYSTEM: the corpus's clean SYSTEM hives, in turn (host00001 gets the first, host00002 the
#   second, ...). The dirty ones (regipy/SYSTEM_2 and SYSTEM_WIN_10_1709 have no .LOG1/.LOG2;
#   SYSTEM_B needs its logs) and regipy/corrupted_system_hive are left out on purpose: they make
#   files partly read, which is not what this benchmark measures. Each host is named from its
#   SYSTEM hive's ComputerName, so many hosts share a name; they stay separate hosts (reported
#   as NAME, NAME#2, ...) because each folder holds its own SYSTEM hive.
# - SOFTWARE: the corpus has no SOFTWARE hive, so every host gets the repository's generated
#   examples/bundle/FS01_SOFTWARE.HIV.
# - Logs (--logs): the records of these logs name the computer WIN-FUDU2CKJOE8, not the
#   ComputerName of any SYSTEM hive above, so hiveward gives every copy to one host of that name:
#   the bundle then has N + 1 hosts, one of which holds N copies of each log. That stresses the host-identity pass and the event reader, not per-host logs.
# Hard links need DIR on the same file system as the corpus and the repository. When a link
# cannot be made (another file system, or the file's link count is at its limit), a symbolic
# link is made instead and stderr says so: such a bundle must be scanned with --follow-links.
set -euo pipefail

usage() {
  echo "usage: bash bench/make-bundle.sh DIR N [--logs] [--force]" >&2
  exit 2
}

root=$(cd "$(dirname "$0")/.." && pwd)
dir=""
count=""
logs=0
force=0
for arg in "$@"; do
  case "$arg" in
    --logs) logs=1 ;;
    --force) force=1 ;;
    -h | --help) usage ;;
    -*) echo "make-bundle: unknown option $arg" >&2; usage ;;
    *)
      if [ -z "$dir" ]; then dir=$arg
      elif [ -z "$count" ]; then count=$arg
      else usage
      fi ;;
  esac
done
if [ -z "$dir" ] || [ -z "$count" ]; then usage; fi
case "$count" in
  '' | *[!0-9]*) echo "make-bundle: N must be a positive integer, not '$count'" >&2; exit 2 ;;
esac
[ "$count" -ge 1 ] || { echo "make-bundle: N must be at least 1" >&2; exit 2; }

corpus="${HIVEWARD_CORPUS:-../shared/corpus}"
case "$corpus" in /*) ;; *) corpus="$root/$corpus" ;; esac
[ -d "$corpus/hives" ] || { echo "make-bundle: no corpus at $corpus/hives (set HIVEWARD_CORPUS)" >&2; exit 2; }
corpus=$(cd "$corpus" && pwd)

# Clean SYSTEM hives of the corpus, used in turn.
SYSTEMS=(
  "$corpus/hives/regipy/SYSTEM"
  "$corpus/hives/dfwinreg/SYSTEM"
)
SOFTWARE="$root/examples/bundle/FS01_SOFTWARE.HIV"
# One Windows Server 2022 machine's logs (their records name the computer WIN-FUDU2CKJOE8).
LOGS=(
  "$corpus/evtx/museum/Server2022/APTSimulatorVM/Security.evtx"
  "$corpus/evtx/museum/Server2022/APTSimulatorVM/System.evtx"
  "$corpus/evtx/museum/Server2022/APTSimulatorVM/Microsoft-Windows-SMBServer%4Operational.evtx"
  "$corpus/evtx/museum/Server2022/APTSimulatorVM/Microsoft-Windows-SmbClient%4Connectivity.evtx"
  "$corpus/evtx/museum/Server2022/APTSimulatorVM/Microsoft-Windows-WindowsUpdateClient%4Operational.evtx"
)
sources=("${SYSTEMS[@]}" "$SOFTWARE")
[ "$logs" = 1 ] && sources+=("${LOGS[@]}")
for f in "${sources[@]}"; do
  [ -f "$f" ] || { echo "make-bundle: missing source file $f (set HIVEWARD_CORPUS?)" >&2; exit 2; }
done
if [ "$logs" = 1 ]; then log_list=$(printf '%s\n' "${LOGS[@]}"); else log_list=""; fi

mkdir -p "$dir"
python3 - "$dir" "$count" "$force" "$SOFTWARE" "$log_list" "${SYSTEMS[@]}" <<'PY'
import errno, os, re, shutil, sys, time

out, count, force, software, log_list = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4], sys.argv[5]
systems = sys.argv[6:]
logs = [l for l in log_list.split("\n") if l]
host_re = re.compile(r"^host[0-9]+$")

entries = os.listdir(out)
if entries:
    others = sorted(e for e in entries if not host_re.match(e))
    if not force:
        sys.exit(f"make-bundle: {out} is not empty; pass --force to replace a bundle made by this script")
    if others:
        sys.exit(f"make-bundle: {out} holds files this script did not make ({', '.join(others[:3])}...); refusing to touch it")
    for e in entries:
        shutil.rmtree(os.path.join(out, e))

start = time.monotonic()
width = max(5, len(str(count)))
fallback = {}  # errno name -> files
made = 0
for i in range(1, count + 1):
    host = os.path.join(out, f"host{i:0{width}d}")
    os.mkdir(host)
    files = [(systems[(i - 1) % len(systems)], "SYSTEM"), (software, "SOFTWARE")]
    files += [(log, os.path.basename(log)) for log in logs]
    for src, name in files:
        dst = os.path.join(host, name)
        try:
            os.link(src, dst)
        except OSError as e:
            if e.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EOPNOTSUPP, errno.EACCES):
                raise
            os.symlink(os.path.abspath(src), dst)
            key = errno.errorcode.get(e.errno, str(e.errno))
            fallback[key] = fallback.get(key, 0) + 1
        made += 1

secs = time.monotonic() - start
print(f"make-bundle: {count} host(s), {made} file(s) in {out} ({secs:.2f} s); "
      f"SYSTEM hives in turn: {', '.join(systems)}; SOFTWARE: {software}"
      + (f"; logs: {len(logs)} per host" if logs else ""), file=sys.stderr)
if fallback:
    reasons = ", ".join(f"{n} file(s): {k}" for k, n in sorted(fallback.items()))
    print(f"make-bundle: hard links could not be made ({reasons}); made symbolic links instead, "
          "so scan this bundle with --follow-links", file=sys.stderr)
PY
