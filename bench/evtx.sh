#!/usr/bin/env bash
# EVTX benchmark: a hiveward scan of every EVTX file under the corpus against
# `evtx_dump -o jsonl` over the same files, on the same thread count, in one run.
# Prints MB/s, records/s and peak RSS for each, and the ratio. See BENCHMARKS.md.
#
# Usage: bash bench/evtx.sh            (THREADS=1 by default; HIVEWARD_CORPUS=../shared/corpus)
# Needs: evtx_dump (`cargo install evtx --version 0.15.1 --locked`), GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="${HIVEWARD_CORPUS:-../shared/corpus}"
threads="${THREADS:-1}"
[ -d "$corpus/evtx" ] || { echo "no corpus at $corpus/evtx" >&2; exit 2; }
command -v evtx_dump >/dev/null || { echo "evtx_dump not found: cargo install evtx --version 0.15.1 --locked" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "GNU time not found: apt-get install time" >&2; exit 2; }

cargo build --release --quiet
bin=target/release/hiveward
list=$(mktemp)
find "$corpus/evtx" -type f -name '*.evtx' -print0 | sort -z > "$list"
files=$(tr -cd '\0' < "$list" | wc -c)
bytes=$(xargs -0 stat -c %s < "$list" | awk '{s+=$1} END {print s}')
records=$("$bin" inspect --events --format json "$corpus/evtx" 2>/dev/null \
  | python3 -c 'import json,sys; r=json.load(sys.stdin); print(sum(f["events"]["records_read"] for h in r["hosts"] for f in h["files"] if f.get("events")))')

measure() { # label, command...
  local label=$1; shift
  local log; log=$(mktemp)
  /usr/bin/time -v "$@" > /dev/null 2> "$log" || true
  local secs rss
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,p,":"); s=0; for(i=1;i<=n;i++) s=s*60+p[i]; print s}' "$log")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
  rm -f "$log"
  python3 - "$label" "$secs" "$rss" "$bytes" "$records" <<'PY'
import sys
label, secs, rss_kb, size, records = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
print(f"{label:<22} {secs:8.2f} s {size/1e6/secs:9.1f} MB/s {records/secs:12.0f} records/s {rss_kb/1024:8.1f} MB peak RSS")
PY
  echo "$secs" > "/tmp/bench-$label.secs"
}

echo "corpus: $files files, $((bytes / 1000000)) MB, $records records; threads: $threads"
measure hiveward-scan "$bin" scan --no-builtin --rules bench/events-pack --jobs "$threads" \
  --format json --fail-on never "$corpus/evtx"
measure evtx_dump-jsonl sh -c "xargs -0 -I{} evtx_dump -t $threads -o jsonl {} < '$list'"
python3 -c "import sys; a=float(open('/tmp/bench-hiveward-scan.secs').read()); b=float(open('/tmp/bench-evtx_dump-jsonl.secs').read()); print(f'ratio: hiveward scan is {b/a:.2f}x the speed of evtx_dump -o jsonl')"
rm -f "$list"
