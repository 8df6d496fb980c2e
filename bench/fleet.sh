#!/usr/bin/env bash
# Fleet benchmark: `hiveward scan` over bundles of N hosts (bench/make-bundle.sh: one folder per
# host, a SYSTEM and a SOFTWARE hive each, hard-linked from the corpus), on 1 and 2 worker
# threads; then, when the binary has them, two `--shard` processes and `hiveward merge`.
# Prints markdown table rows that can be pasted into BENCHMARKS.md, and the command lines used.
# Event-log throughput is measured by bench/evtx.sh, not here.
#
# Usage: bash bench/fleet.sh
# Environment:
#   SIZES            host counts to measure (default "100 1000 10000")
#   JOBS             --jobs values to compare (default "1 2"; the first is the speed-up's base)
#   HIVEWARD         the binary to measure (default: `cargo build --release`, then
#                    ${CARGO_TARGET_DIR:-target}/release/hiveward)
#   BENCH_DATA       where the bundles are made (default ../bench-data, relative to the
#                    repository root); an existing bundle of the right size is reused
#   RUNS             timed runs per measurement for N <= 1000 (default 3; the median is shown);
#                    bigger bundles get one run
#   RUN_TIMEOUT      seconds after which one run is killed and reported as timed out (default 1800)
#   LOGS             1: bundles whose hosts also hold the same corpus event logs
#                    (bench/make-bundle.sh --logs; BENCH_DATA/fleet-logs-N; these bundles
#                    have N + 1 hosts, see bench/make-bundle.sh; hosts/s counts N)
#   HIVEWARD_CORPUS  passed on to bench/make-bundle.sh
# Needs: GNU time (/usr/bin/time; apt-get install time), python3.
#
# Every measurement is preceded by one untimed run of the same scan, which warms the page cache
# and writes the JSON report whose summary.rule_errors is shown. "peak RSS" is GNU time's
# maximum resident set size. The hives are memory-mapped, and a page of a file mapped once per
# host counts once per mapping, so with hard-linked bundles most of it is the same few
# page-cache pages; the "anon" figure (the heap, sampled from /proc every 0.1 s during the
# untimed run) is what the scan itself allocates.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

sizes="${SIZES:-100 1000 10000}"
jobs_list="${JOBS:-1 2}"
runs_small="${RUNS:-3}"
run_timeout="${RUN_TIMEOUT:-1800}"
data="${BENCH_DATA:-../bench-data}"
with_logs="${LOGS:-0}"
bench_require_tools
bin=$(bench_binary)
mkdir -p "$data"
data=$(cd "$data" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- helpers -----------------------------------------------------------------------------

# Makes (or reuses) the N-host bundle and prints its path.
bundle_for() {
  local n=$1
  local dir="$data/fleet-$n" flags=()
  if [ "$with_logs" = 1 ]; then dir="$data/fleet-logs-$n"; flags+=(--logs); fi
  bench_bundle "$dir" "$n" "${flags[@]}"
  printf '%s\n' "$dir"
}

# Runs a command under GNU time; prints "wall_s user_s sys_s maxrss_kb exit".
timed() {
  local log="$tmp/time.log" rc=0
  /usr/bin/time -v -o "$log" timeout -k 10 "$run_timeout" "$@" > /dev/null 2> "$tmp/stderr" || rc=$?
  python3 - "$log" "$rc" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def field(name):
    m = re.search(r"^\s*" + re.escape(name) + r": (.*)$", text, re.M)
    return m.group(1).strip() if m else "0"
wall = 0.0
for part in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":"):
    wall = wall * 60 + float(part)
rc = int(sys.argv[2])
# GNU time exits with the command's status (and notes "Command exited with non-zero status").
print(f"{wall:.3f} {field('User time (seconds)')} {field('System time (seconds)')} "
      f"{field('Maximum resident set size (kbytes)')} {rc}")
PY
}

# Runs a command untimed while sampling its peak RssAnon and RssFile (kB) from /proc;
# prints "anon_kb file_kb exit". The command is killed after RUN_TIMEOUT seconds.
sampled() {
  local rc=0 pid anon=0 file=0 a f start=$SECONDS
  "$@" > /dev/null 2> "$tmp/stderr" &
  pid=$!
  while [ -r "/proc/$pid/status" ] && ! grep -q '^State:.*zombie' "/proc/$pid/status" 2>/dev/null; do
    a=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    f=$(awk '/^RssFile:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    if [ -n "$a" ] && [ "$a" -gt "$anon" ]; then anon=$a; fi
    if [ -n "$f" ] && [ "$f" -gt "$file" ]; then file=$f; fi
    if [ $((SECONDS - start)) -ge "$run_timeout" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
    sleep 0.1
  done
  wait "$pid" || rc=$?
  printf '%s %s %s\n' "$anon" "$file" "$rc"
}

# Median of timed runs: prints the line of the run with the median wall time.
median_of() { # runs, command...
  local runs=$1; shift
  local i
  for ((i = 0; i < runs; i++)); do timed "$@"; done | sort -n -k1,1 | awk '{l[NR]=$0} END {print l[int((NR+1)/2)]}'
}

rule_errors() { # json report
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["rule_errors"])' "$1" 2>/dev/null || echo "?"
}

# --- header ------------------------------------------------------------------------------

rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | head -1)
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
echo "# hiveward fleet benchmark"
echo
echo "command: ${HIVEWARD:+HIVEWARD=$HIVEWARD }SIZES=\"$sizes\" JOBS=\"$jobs_list\" RUNS=$runs_small LOGS=$with_logs bash bench/fleet.sh"
echo "binary: $bin ($("$bin" --version 2>/dev/null || echo '?')); repository at $rev${dirty:+ with uncommitted changes}"
echo "machine: $(nproc) CPU(s), $cpu, $(awk '/^MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
busy=$(awk -v n="$(nproc)" '{print ($1 > n / 2) ? 1 : 0}' /proc/loadavg)
if [ "$busy" = 1 ]; then
  echo "warning: the machine is busy (load average $(cut -d' ' -f1 /proc/loadavg) on $(nproc) CPUs): walls and speed-ups are not comparable, CPU times are"
fi
echo "event logs: see bench/evtx.sh (BENCHMARKS.md, 'Event logs')"
echo
echo "scan: $bin scan $data/fleet-$([ "$with_logs" = 1 ] && echo logs-)N --jobs J --format json -o /dev/null --fail-on never"
echo "median of $runs_small run(s) for N <= 1000, one run above; one untimed run first (it writes the JSON report read for 'rule errors' and samples the anon RSS)"
echo
for n in $sizes; do bundle_for "$n" > /dev/null; done
echo "| hosts | jobs | wall | hosts/s | CPU user+sys | CPU/wall | peak RSS | of which anon | exit | rule errors | speed-up |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"

# --- scans -------------------------------------------------------------------------------

read -r first_job _ <<< "$jobs_list"
declare -A walls=()
shard_n=""
for n in $sizes; do
  if [ "$n" -le 1000 ] && { [ -z "$shard_n" ] || [ "$n" -gt "$shard_n" ]; }; then shard_n=$n; fi
done

for n in $sizes; do
  bundle=$(bundle_for "$n")
  mapfile -t extra < <(bench_link_flags "$bundle")
  runs=1
  if [ "$n" -le 1000 ]; then runs=$runs_small; fi
  base_wall=""
  for j in $jobs_list; do
    cmd=("$bin" scan "$bundle" "${extra[@]}" --jobs "$j" --fail-on never)
    read -r anon _file warm_rc < <(sampled "${cmd[@]}" --format json -o "$tmp/report-$n-$j.json")
    errors=$(rule_errors "$tmp/report-$n-$j.json")
    if [ "$j" = "$first_job" ] && [ "$n" = "$shard_n" ]; then
      cp "$tmp/report-$n-$j.json" "$tmp/single-$n.json"
    fi
    read -r wall user sys rss rc < <(median_of "$runs" "${cmd[@]}" --format json -o /dev/null)
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then rc="timed out (${run_timeout} s)"; fi
    if [ "$warm_rc" != "${rc%% *}" ]; then rc="$rc (untimed run: $warm_rc)"; fi
    walls[$n-$j]=$wall
    if [ -z "$base_wall" ]; then base_wall=$wall; speedup="1.00×"; else
      speedup=$(python3 -c "import sys; print(f'{float(sys.argv[1])/float(sys.argv[2]):.2f}×')" "$base_wall" "$wall")
    fi
    python3 - "$n" "$j" "$wall" "$user" "$sys" "$rss" "$anon" "$rc" "$errors" "$speedup" <<'PY'
import sys
n, j, wall, user, sys_, rss, anon, rc, errors, speedup = sys.argv[1:]
n, wall, cpu = int(n), float(wall), float(user) + float(sys_)
print(f"| {n:,} | {j} | {wall:.2f} s | {n / wall:,.0f} | {cpu:.2f} s | {cpu / wall:.2f} | "
      f"{int(rss) / 1024:,.0f} MB | {int(anon) / 1024:,.0f} MB | {rc} | {errors} | {speedup} |")
PY
  done
done

# --- shards and merge --------------------------------------------------------------------

echo
echo "load average after the scans: $(cut -d' ' -f1-3 /proc/loadavg)"
scan_help=$("$bin" scan --help 2>/dev/null || true)
if ! grep -q -- '--shard' <<< "$scan_help" || ! grep -q -- '--partial' <<< "$scan_help" \
  || ! "$bin" merge --help > /dev/null 2>&1; then
  echo "shards: skipped: shard/merge not available"
  exit 0
fi
if [ -z "$shard_n" ]; then
  echo "shards: skipped: no size of at most 1000 hosts in SIZES"
  exit 0
fi

n=$shard_n
bundle=$(bundle_for "$n")
mapfile -t extra < <(bench_link_flags "$bundle")
runs=$runs_small
shard_cmd() { # k
  printf '%s\0' "$bin" scan "$bundle" "${extra[@]}" --shard "$1/2" --partial "$tmp/p$1.json" --jobs 1 --fail-on never
}
merge_cmd=("$bin" merge "$tmp/p1.json" "$tmp/p2.json" --format json -o "$tmp/merged.json" --fail-on never)
mapfile -d '' -t s1 < <(shard_cmd 1)
mapfile -d '' -t s2 < <(shard_cmd 2)
show() { local line="$*"; printf '%s\n' "${line//$tmp\//}"; }
show "shards: ${s1[*]} & ${s2[*]} & wait"
show "merge: ${merge_cmd[*]}"
show "single-process report: $bin scan $bundle ${extra[*]:+${extra[*]} }--jobs $first_job --format json -o single.json --fail-on never"
echo

# One pair of concurrent shards: prints "wall_s max_rss_kb exit1 exit2".
shard_pair() {
  local t0 t1 rc1=0 rc2=0 p1 p2
  t0=$(date +%s.%N)
  /usr/bin/time -v -o "$tmp/s1.log" timeout -k 10 "$run_timeout" "${s1[@]}" > /dev/null 2> "$tmp/s1.err" &
  p1=$!
  /usr/bin/time -v -o "$tmp/s2.log" timeout -k 10 "$run_timeout" "${s2[@]}" > /dev/null 2> "$tmp/s2.err" &
  p2=$!
  wait "$p1" || rc1=$?
  wait "$p2" || rc2=$?
  t1=$(date +%s.%N)
  local r1 r2
  r1=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/s1.log")
  r2=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/s2.log")
  python3 -c "import sys; print(f'{float(sys.argv[2])-float(sys.argv[1]):.3f}', max(int(sys.argv[3] or 0), int(sys.argv[4] or 0)), sys.argv[5], sys.argv[6])" \
    "$t0" "$t1" "$r1" "$r2" "$rc1" "$rc2"
}

shard_pair > /dev/null # untimed: warms the page cache
for ((i = 0; i < runs; i++)); do shard_pair; done | sort -n -k1,1 > "$tmp/shards.txt"
read -r swall srss src1 src2 < <(awk '{l[NR]=$0} END {print l[int((NR+1)/2)]}' "$tmp/shards.txt")
read -r mwall _u _s mrss mrc < <(median_of "$runs" "${merge_cmd[@]}")
if [ ! -s "$tmp/merged.json" ]; then
  same="no merged report"
elif cmp -s "$tmp/merged.json" "$tmp/single-$n.json"; then
  same="yes"
else
  same="no: $(cmp "$tmp/merged.json" "$tmp/single-$n.json" 2>&1 | head -1 | sed "s#$tmp/##g")"
fi
echo "| hosts | shards | shard wall | merge wall | shards + merge | hosts/s | speed-up vs one process | shard peak RSS | merge peak RSS | exits (shard 1, shard 2, merge) | merged = single-process JSON |"
echo "|---:|---|---:|---:|---:|---:|---|---:|---:|---|---|"
refs=""
for j in $jobs_list; do refs+="$j=${walls[$n-$j]:-} "; done
python3 - "$n" "$swall" "$mwall" "$srss" "$mrss" "$src1" "$src2" "$mrc" "$same" "$refs" <<'PY'
import sys
n, swall, mwall, srss, mrss, e1, e2, em, same, refs = sys.argv[1:]
n, swall, mwall = int(n), float(swall), float(mwall)
total = swall + mwall
# Speed-up of the shards plus the merge against the single-process scan on each --jobs value.
ups = []
for ref in refs.split():
    j, _, wall = ref.partition("=")
    if wall:
        ups.append(f"{float(wall) / total:.2f}× (--jobs {j})")
print(f"| {n:,} | 2 × --jobs 1 | {swall:.2f} s | {mwall:.2f} s | {total:.2f} s | {n / total:,.0f} | "
      f"{', '.join(ups) or '?'} | {int(srss) / 1024:,.0f} MB | {int(mrss) / 1024:,.0f} MB | "
      f"{e1}, {e2}, {em} | {same} |")
PY
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
