#!/usr/bin/env bash
# Rule-content benchmark: how much of a fleet scan is the built-in rules' Rhai code, and how
# much is everything else (discovery, identity, collection, needs checks, rule calls, fleet
# summaries, spooling, the report).
#
# It writes a "floor" pack that mirrors every built-in rule (same id, scope and needs) with an
# empty body: a host rule's `check` returns no findings, a fleet rule's `summarize` returns an
# empty map and its `check` no findings. It then scans the same N-host bundle
# (bench/make-bundle.sh) with the built-in packs and with the floor pack (`--no-builtin
# --rules FLOOR`), on each --jobs value, and prints markdown table rows for BENCHMARKS.md.
# The difference between the two is the time spent running the rules' own code.
#
# Usage: bash bench/floor.sh
# Environment:
#   N            hosts in the bundle (default 1000)
#   JOBS         --jobs values (default "1 2")
#   RUNS         timed runs per measurement; the median is shown (default 3)
#   HIVEWARD     the binary to measure (default: `cargo build --release`, then
#                ${CARGO_TARGET_DIR:-target}/release/hiveward)
#   BENCH_DATA   where the bundle is made or reused (default ../bench-data)
# Needs: GNU time (/usr/bin/time), python3.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

n="${N:-1000}"
jobs_list="${JOBS:-1 2}"
runs="${RUNS:-3}"
data="${BENCH_DATA:-../bench-data}"
bench_require_tools
bin=$(bench_binary)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$data"
bundle="$(cd "$data" && pwd)/fleet-$n"
bench_bundle "$bundle" "$n"
mapfile -t links < <(bench_link_flags "$bundle")

# The floor pack, from the loaded rules' own metadata.
"$bin" --version > /dev/null
"$bin" rules list --no-config --format json > "$tmp/rules.json"
python3 - "$tmp/rules.json" "$tmp/floor" <<'PY'
import json, os, sys

rules = json.load(open(sys.argv[1]))
pack = os.path.join(sys.argv[2], "floor")
os.makedirs(pack)
with open(os.path.join(pack, "pack.toml"), "w") as f:
    f.write('name = "floor"\nversion = "0.1.0"\n'
            'description = "Every built-in rule with an empty body (bench/floor.sh)."\n'
            'min_hiveward = "0.1.0"\n')

def rhai(value):
    """A Rhai literal of a JSON value (object maps with quoted keys, () for null)."""
    if value is None:
        return "()"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(rhai(item) for item in value) + "]"
    return "#{" + ", ".join(f"{json.dumps(k)}: {rhai(v)}" for k, v in value.items()
                            if v is not None) + "}"

for rule in rules:
    if not rule.get("builtin", True):
        continue
    fleet = rule["scope"] == "fleet"
    body = ("fn summarize(host) { #{} }\nfn check(fleet) { [] }\n" if fleet
            else "fn check(host) { [] }\n")
    meta = {
        "id": rule["id"], "pack": "floor", "title": rule["title"],
        "description": "The built-in rule's id, scope and needs, with an empty body.",
        "severity": rule["severity"], "tags": [], "references": [],
        "scope": rule["scope"], "needs": rule["needs"], "fix": "none",
    }
    with open(os.path.join(pack, rule["id"] + ".rhai"), "w") as f:
        f.write(f"//! {rule['id']} with an empty body.\n\nexport const RULE = {rhai(meta)};\n\n{body}")
print(f"floor pack: {len(os.listdir(pack)) - 1} rules", file=sys.stderr)
PY

# Runs a command under GNU time; prints "wall_s user_s sys_s maxrss_kb exit".
timed() {
  local log="$tmp/time.log" rc=0
  /usr/bin/time -f "%e %U %S %M" -o "$log" "$@" > /dev/null 2> "$tmp/stderr" || rc=$?
  printf '%s %s\n' "$(tail -1 "$log")" "$rc"
}
median_of() { # runs, command...
  local count=$1; shift
  local i
  for ((i = 0; i < count; i++)); do timed "$@"; done | sort -n -k1,1 | awk '{l[NR]=$0} END {print l[int((NR+1)/2)]}'
}

rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "command: N=$n JOBS=\"$jobs_list\" RUNS=$runs bash bench/floor.sh"
echo "binary: $bin ($("$bin" --version)); repository at $rev; $(nproc) CPU(s); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| rules | jobs | wall (median of $runs) | hosts/s | CPU user+sys | peak RSS | exit |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for set in builtin floor; do
  if [ "$set" = builtin ]; then
    pack=()
  else
    pack=(--no-builtin --rules "$tmp/floor/floor")
  fi
  for jobs in $jobs_list; do
    args=(scan "$bundle" --no-config "${links[@]}" "${pack[@]}" --jobs "$jobs" --format json --output "$tmp/report.json")
    "$bin" "${args[@]}" > /dev/null 2>&1 || true
    if [ "$set" = floor ]; then
      # The floor pack must load whole and run clean, or the comparison means nothing.
      python3 - "$tmp/report.json" "$tmp/rules.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
builtin = [rule for rule in json.load(open(sys.argv[2])) if rule.get("builtin", True)]
if report["summary"]["rule_errors"] or len(report["rules"]) != len(builtin):
    sys.exit(f"floor pack: {len(report['rules'])} of {len(builtin)} rules ran, "
             f"{report['summary']['rule_errors']} rule errors")
PY
    fi
    read -r wall user sys rss rc < <(median_of "$runs" "$bin" "${args[@]}")
    python3 - "$set" "$jobs" "$wall" "$user" "$sys" "$rss" "$rc" "$n" <<'PY'
import sys
label, jobs, wall, user, sys_, rss, rc, n = sys.argv[1:]
wall = float(wall)
name = "built-in packs" if label == "builtin" else "floor pack (empty bodies)"
print(f"| {name} | {jobs} | {wall:.2f} s | {int(n) / wall:.0f} | "
      f"{float(user) + float(sys_):.2f} s | {int(rss) / 1024:.0f} MiB | {rc} |")
PY
  done
done
