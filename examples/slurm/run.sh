#!/usr/bin/env bash
# Runs a sharded hiveward scan on a Slurm cluster and waits for its reports.
#
#   examples/slurm/run.sh BUNDLE_DIR N OUTDIR [SCAN OPTION...]
#
# Submits scan-array.sbatch as a job array of N tasks (shard K of N each), then merge.sbatch,
# which starts once every task has succeeded (--dependency=afterok) and is cancelled if one
# fails (--kill-on-invalid-dep=yes). Waits for the merge to end, and exits
#   0  when OUTDIR/report.json and OUTDIR/report.sarif were written;
#   1  when a job failed, was cancelled or timed out, can never start as submitted (more CPUs
#      than a node has, say), or the wait limit passed: it then says which job, shows every
#      job's state and each job's log (the start and end of long ones), and cancels what it
#      submitted that is still queued or running;
#   2  on a bad invocation.
# Findings never fail it: the merge runs with --fail-on never. Gate on the reports (for
# instance `hiveward merge ... --fail-on high`, or your SARIF consumer) if you need to.
#
# BUNDLE_DIR and OUTDIR must be on a file system that the compute nodes see; both are turned
# into absolute paths, since the jobs run from another directory. OUTDIR is created if needed
# and must not hold partials or reports of an earlier run. It receives
#   partial-K.json                   the partial result of shard K
#   hiveward-scan-<job>_<K>.out      the log of array task K
#   hiveward-merge-<job>.out         the log of the merge
#   report.json, report.sarif        the reports
# Further arguments go to every shard's `hiveward scan` (--rules, --only, --exclude, --profile,
# --param, --require; not --jobs, which follows HIVEWARD_CPUS_PER_TASK).
#
# Environment:
#   HIVEWARD                 the hiveward binary (default: `hiveward` on PATH); the nodes run
#                            the same path, so it too must be on a shared file system
#   HIVEWARD_CPUS_PER_TASK   CPUs for each scan task (default: the script's #SBATCH line, 2)
#   HIVEWARD_SLURM_WAIT      seconds to wait for the merge to end before giving up (default 3600)
#   HIVEWARD_SLURM_POLL      seconds between looks at the queue (default 5)
#   SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_QOS, ...  read by sbatch itself
set -euo pipefail

usage() {
  echo "usage: $0 BUNDLE_DIR N OUTDIR [SCAN OPTION...]" >&2
  exit 2
}

log() { echo "run.sh: $*" >&2; }

[ $# -ge 3 ] || usage
bundle_arg="$1"
shards="$2"
outdir_arg="$3"
shift 3
scan_opts=("$@")

case "$shards" in
  '' | *[!0-9]* | 0*) log "N must be a positive whole number, not '$shards'"; usage ;;
esac
[ -d "$bundle_arg" ] || { log "no bundle directory at $bundle_arg"; exit 2; }

wait_limit="${HIVEWARD_SLURM_WAIT:-3600}"
poll="${HIVEWARD_SLURM_POLL:-5}"
case "$wait_limit$poll" in
  *[!0-9]*) log "HIVEWARD_SLURM_WAIT and HIVEWARD_SLURM_POLL must be whole seconds"; exit 2 ;;
esac
[ "$poll" -gt 0 ] || poll=1

for cmd in sbatch scontrol scancel; do
  command -v "$cmd" >/dev/null || { log "$cmd not found: is this a Slurm submit host?"; exit 2; }
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
bundle=$(cd "$bundle_arg" && pwd -P)
mkdir -p "$outdir_arg"
outdir=$(cd "$outdir_arg" && pwd -P)

hiveward="${HIVEWARD:-hiveward}"
if [[ "$hiveward" != */* ]]; then
  resolved=$(command -v "$hiveward") || { log "$hiveward not found on PATH; set HIVEWARD"; exit 2; }
  hiveward="$resolved"
fi
[ -x "$hiveward" ] || { log "HIVEWARD=$hiveward is not an executable file"; exit 2; }
hiveward=$(cd "$(dirname "$hiveward")" && pwd -P)/$(basename "$hiveward")

shopt -s nullglob
stale=("$outdir"/partial-*.json)
shopt -u nullglob
for report in "$outdir/report.json" "$outdir/report.sarif"; do
  [ ! -e "$report" ] || stale+=("$report")
done
if [ ${#stale[@]} -gt 0 ]; then
  log "$outdir already holds results of an earlier run (${stale[*]}); use an empty directory"
  exit 2
fi

array_id=""
merge_id=""

# "JobState=RUNNING" and the like from one line of `scontrol show job -o`.
field() {
  local line="$1" name="$2"
  grep -oE "(^| )$name=[^ ]*" <<<"$line" | head -n 1 | sed -E "s/^ ?$name=//" || true
}

# One line per job, or per array task, of JOB: id, state, exit code and reason.
job_lines() {
  local id="$1" line out jid state code reason
  if out=$(scontrol show job -o "$id" 2>/dev/null); then
    while IFS= read -r line; do
      [ -n "$line" ] || continue
      local task
      task=$(field "$line" ArrayTaskId)
      printf '  job %s%s: %s, exit code %s, reason %s\n' "$id" "${task:+ task $task}" \
        "$(field "$line" JobState)" "$(field "$line" ExitCode)" "$(field "$line" Reason)"
    done <<<"$out"
  elif command -v sacct >/dev/null && out=$(sacct -n -X -P -j "$id" -o JobID,State,ExitCode,Reason 2>/dev/null) && [ -n "$out" ]; then
    while IFS='|' read -r jid state code reason; do
      printf '  job %s: %s, exit code %s, reason %s\n' "$jid" "$state" "$code" "$reason"
    done <<<"$out"
  else
    printf '  job %s: unknown to scontrol (the controller is down, or has forgotten the job)\n' "$id"
  fi
}

# State and reason of the (non-array) job ID, as "STATE REASON"; "UNKNOWN -" if Slurm has
# forgotten it.
job_state() {
  local id="$1" line state
  if line=$(scontrol show job -o "$id" 2>/dev/null | head -n 1) && [ -n "$line" ]; then
    echo "$(field "$line" JobState) $(field "$line" Reason)"
    return
  fi
  if command -v sacct >/dev/null; then
    state=$(sacct -n -X -P -j "$id" -o State 2>/dev/null | head -n 1 | cut -d' ' -f1)
    if [ -n "$state" ]; then
      echo "$state -"
      return
    fi
  fi
  echo "UNKNOWN -"
}

show_logs() {
  local f logs=()
  shopt -s nullglob
  [ -z "$array_id" ] || logs+=("$outdir"/hiveward-scan-"$array_id"_*.out)
  [ -z "$merge_id" ] || logs+=("$outdir"/hiveward-merge-"$merge_id".out)
  shopt -u nullglob
  local lines
  for f in "${logs[@]}"; do
    if [ -f "$f" ]; then
      lines=$(wc -l <"$f")
      if [ "$lines" -le 60 ]; then
        echo "---- $f" >&2
        cat "$f" >&2 || true
      else
        # The start says what went wrong (a panic's message precedes its backtrace), the end
        # how it ended.
        echo "---- $f (first 20 and last 40 of $lines lines)" >&2
        head -n 20 "$f" >&2 || true
        echo "     [... $((lines - 60)) lines left out ...]" >&2
        tail -n 40 "$f" >&2 || true
      fi
    else
      echo "---- $f: not written (the job never started)" >&2
    fi
  done
}

fail() {
  log "FAILED: $*"
  echo "job states:" >&2
  [ -z "$array_id" ] || job_lines "$array_id" >&2
  [ -z "$merge_id" ] || job_lines "$merge_id" >&2
  # Cancel what is still queued or running: nothing is left behind to run on its own.
  local ids=()
  [ -z "$array_id" ] || ids+=("$array_id")
  [ -z "$merge_id" ] || ids+=("$merge_id")
  if [ ${#ids[@]} -gt 0 ]; then
    scancel "${ids[@]}" 2>/dev/null || true
  fi
  show_logs
  exit 1
}

# Submitted from OUTDIR: relative paths that Slurm resolves at submission end up there too.
cd "$outdir"

cpus=()
[ -z "${HIVEWARD_CPUS_PER_TASK:-}" ] || cpus=(--cpus-per-task="$HIVEWARD_CPUS_PER_TASK")

start=$SECONDS
submitted=$(sbatch --parsable --array="1-$shards" "${cpus[@]}" \
  --chdir="$outdir" --output="$outdir/hiveward-scan-%A_%a.out" \
  --export=ALL,HIVEWARD="$hiveward" \
  "$here/scan-array.sbatch" "$bundle" "$outdir" "${scan_opts[@]}") ||
  fail "sbatch refused the scan array"
array_id="${submitted%%;*}"
log "submitted scan array job $array_id: $shards shard(s) of $bundle"

submitted=$(sbatch --parsable --dependency="afterok:$array_id" --kill-on-invalid-dep=yes \
  --chdir="$outdir" --output="$outdir/hiveward-merge-%j.out" \
  --export=ALL,HIVEWARD="$hiveward" \
  "$here/merge.sbatch" "$outdir") ||
  fail "sbatch refused the merge job"
merge_id="${submitted%%;*}"
log "submitted merge job $merge_id (after every task of $array_id succeeds); waiting up to $wait_limit s"

# Pending reasons that will not change by waiting: the request exceeds what the partition,
# account or QOS allows, or a job it depends on failed.
hopeless() {
  case "$1" in
    BadConstraints | PartitionConfig | PartitionNodeLimit | PartitionTimeLimit | InvalidAccount | \
      InvalidQOS | DependencyNeverSatisfied) return 0 ;;
    *) return 1 ;;
  esac
}

# "2 COMPLETED, 1 RUNNING, 1 PENDING (Resources)": the array's tasks counted by state, with
# the pending reasons. A pending range such as ArrayTaskId=3-16%4 counts as its 14 tasks.
array_summary() {
  local out
  out=$(scontrol show job -o "$array_id" 2>/dev/null) || return 0
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    printf '%s %s %s\n' "$(field "$line" ArrayTaskId)" "$(field "$line" JobState)" "$(field "$line" Reason)"
  done <<<"$out" | awk '
    {
      n = 0; ids = $1; sub(/%.*/, "", ids)
      k = split(ids, parts, ",")
      for (i = 1; i <= k; i++) {
        step = 1; p = parts[i]
        if (split(p, ps, ":") == 2) { p = ps[1]; step = ps[2] }
        if (split(p, r, "-") == 2) n += int((r[2] - r[1]) / step) + 1; else n += 1
      }
      key = $2; if ($2 == "PENDING") key = $2 " (" $3 ")"
      if (!(key in count)) order[++m] = key
      count[key] += n
    }
    END { for (i = 1; i <= m; i++) printf "%s%d %s", (i > 1 ? ", " : ""), count[order[i]], order[i]; print "" }'
}

last=""
last_tasks=""
unknown_since=""
while :; do
  read -r state reason <<<"$(job_state "$merge_id")"
  tasks=$(array_summary)
  if [ -n "$tasks" ] && [ "$tasks" != "$last_tasks" ]; then
    log "$((SECONDS - start)) s: scan tasks: $tasks"
    last_tasks="$tasks"
  fi
  if [ "$state $reason" != "$last" ]; then
    log "$((SECONDS - start)) s: merge job $merge_id is $state ($reason)"
    last="$state $reason"
  fi
  case "$state" in
    COMPLETED) break ;;
    PENDING | CONFIGURING | RUNNING | COMPLETING | REQUEUED | RESIZING | SUSPENDED) unknown_since="" ;;
    UNKNOWN)
      # The controller did not answer, or has forgotten the job: allow a minute for the former.
      unknown_since="${unknown_since:-$SECONDS}"
      [ $((SECONDS - unknown_since)) -lt 60 ] ||
        fail "Slurm has not known merge job $merge_id for $((SECONDS - unknown_since)) s"
      ;;
    *) fail "merge job $merge_id ended $state ($reason)" ;;
  esac
  if [ "$state" = PENDING ] && [ "$reason" = DependencyNeverSatisfied ]; then
    fail "a scan task failed, so the merge job $merge_id can never start"
  fi
  while read -r r; do
    if hopeless "$r"; then
      fail "scan tasks of job $array_id cannot start as submitted (pending: $r); check HIVEWARD_CPUS_PER_TASK, the time limit, the partition, account and QOS"
    fi
  done < <(grep -oE 'PENDING \([A-Za-z]+\)' <<<"$tasks" | sed -E 's/PENDING \((.*)\)/\1/')
  if hopeless "$reason"; then
    fail "merge job $merge_id cannot start as submitted (pending: $reason)"
  fi
  if [ $((SECONDS - start)) -ge "$wait_limit" ]; then
    fail "the jobs did not finish within $wait_limit s (HIVEWARD_SLURM_WAIT)"
  fi
  sleep "$poll"
done

for report in "$outdir/report.json" "$outdir/report.sarif"; do
  [ -s "$report" ] || fail "the merge job completed but $report is missing"
done
echo "job states:" >&2
job_lines "$array_id" >&2
job_lines "$merge_id" >&2
log "done in $((SECONDS - start)) s: $outdir/report.json $outdir/report.sarif"
