#!/usr/bin/env bash
# CI check of sharded scanning on a real Slurm cluster (examples/slurm), run from the repository
# root after the build:
#
#   bash .ci/slurm-check.sh
#
# 1. makes a bundle of HIVEWARD_SLURM_HOSTS (default 1000) hosts with bench/make-bundle.sh;
# 2. brings up a one-node Slurm cluster on this machine (.ci/slurm-cluster.sh; brought down
#    again on exit, whatever happens);
# 3. runs examples/slurm/run.sh on it with 4 shards, and a single-process scan of the same
#    bundle, and requires the merged report.json and report.sarif to be byte-identical to the
#    single scan's;
# 4. requires a merge of 3 of the 4 partials to exit 3 and to name the missing shard;
# 5. requires run.sh to fail, and to show the failed task's log, when one shard fails.
#
# It builds nothing: it runs target/debug/hiveward, or HIVEWARD. slurm-wlm and munge must be
# installed (apt-get install -y slurm-wlm munge). MAKE_BUNDLE overrides the bundle generator
# (bench/make-bundle.sh DIR N).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd -P)

hiveward="${HIVEWARD:-target/debug/hiveward}"
[ -x "$hiveward" ] || { echo "no hiveward binary at $hiveward: build first (cargo build)" >&2; exit 1; }
hiveward="$(cd "$(dirname "$hiveward")" && pwd -P)/$(basename "$hiveward")"
make_bundle="${MAKE_BUNDLE:-bench/make-bundle.sh}"
hosts="${HIVEWARD_SLURM_HOSTS:-1000}"
shards=4

work=$(mktemp -d)
cluster_up=""
cleanup() {
  local status=$?
  if [ -n "$cluster_up" ]; then
    bash "$repo/.ci/slurm-cluster.sh" down || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

step_start=0
step() {
  step_start=$SECONDS
  echo "== slurm: $*"
}
took() { echo "   took $((SECONDS - step_start)) s"; }
check_start=$SECONDS

step "bundle of $hosts host(s) ($make_bundle)"
bash "$make_bundle" "$work/bundle" "$hosts"
# The reports name evidence files by the path the scan was given: give the single scan and the
# shards the same absolute path (run.sh makes its argument absolute).
bundle=$(cd "$work/bundle" && pwd -P)
# Where hard links to the corpus cannot be made, the bundle holds symbolic links instead.
scan_opts=()
if [ -n "$(find "$bundle" -type l -print -quit)" ]; then
  scan_opts=(--follow-links)
  echo "   the bundle holds symbolic links: scanning with --follow-links"
fi
took

step "one-node Slurm cluster"
cluster_up=1
bash .ci/slurm-cluster.sh up
eval "$(bash .ci/slurm-cluster.sh env)"
took

step "examples/slurm/run.sh: $shards shards and the merge"
out="$work/out"
HIVEWARD="$hiveward" HIVEWARD_CPUS_PER_TASK=1 HIVEWARD_SLURM_WAIT=420 HIVEWARD_SLURM_POLL=1 \
  bash examples/slurm/run.sh "$bundle" "$shards" "$out" "${scan_opts[@]}"
took

step "single-process scan of the same bundle"
single="$work/single"
mkdir -p "$single"
status=0
"$hiveward" scan "$bundle" --format json -o "$single/single.json" \
  --output-format "sarif:$single/single.sarif" --fail-on never "${scan_opts[@]}" || status=$?
if [ "$status" -ne 0 ]; then
  echo "the single scan exited $status; the merge job succeeded, so it must exit 0 too" >&2
  exit 1
fi
took

step "merged reports are byte-identical to the single scan's"
same=1
for pair in "report.json single.json" "report.sarif single.sarif"; do
  read -r merged one <<<"$pair"
  if cmp "$out/$merged" "$single/$one"; then
    echo "   $merged == $one ($(wc -c <"$out/$merged") bytes)"
  else
    same=""
    echo "   $merged differs from $one; first differing lines:" >&2
    diff "$out/$merged" "$single/$one" | head -n 20 >&2 || true
  fi
done
[ -n "$same" ] || exit 1
took

step "a merge without shard 2 exits 3 and names it"
partials=()
for ((k = 1; k <= shards; k++)); do
  [ "$k" -eq 2 ] || partials+=("$out/partial-$k.json")
done
status=0
"$hiveward" merge "${partials[@]}" --format json -o "$work/missing.json" --fail-on never \
  2>"$work/missing.err" || status=$?
sed 's/^/   stderr: /' "$work/missing.err"
if [ "$status" -ne 3 ]; then
  echo "a merge of ${#partials[@]} of $shards partials exited $status, not 3" >&2
  exit 1
fi
# "shard 2", "shards 2", "shard(s) 2 of 4", "2/4"
if ! grep -Eiq "shard(s|\(s\))? 2([^0-9]|$)|(^|[^0-9])2( of |/)$shards([^0-9]|$)" "$work/missing.err"; then
  echo "the merge's diagnostic does not name the missing shard 2" >&2
  exit 1
fi
took

step "run.sh fails, with the failed task's log, when a shard fails"
# A hiveward that fails in array task 2 and works everywhere else.
failing="$work/failing-hiveward"
cat >"$failing" <<EOF
#!/usr/bin/env bash
if [ "\${SLURM_ARRAY_TASK_ID:-}" = 2 ]; then
  echo "shard 2 failed on purpose" >&2
  exit 2
fi
exec "$hiveward" "\$@"
EOF
chmod +x "$failing"
status=0
HIVEWARD="$failing" HIVEWARD_CPUS_PER_TASK=1 HIVEWARD_SLURM_WAIT=120 HIVEWARD_SLURM_POLL=1 \
  bash examples/slurm/run.sh "$repo/examples/bundle" "$shards" "$work/out-failing" \
  2>"$work/failing.err" || status=$?
sed 's/^/   /' "$work/failing.err"
if [ "$status" -eq 0 ]; then
  echo "run.sh exited 0 although shard 2 failed" >&2
  exit 1
fi
if ! grep -q "shard 2 failed on purpose" "$work/failing.err"; then
  echo "run.sh did not show the failed task's log" >&2
  exit 1
fi
took

echo "slurm check passed in $((SECONDS - check_start)) s"
