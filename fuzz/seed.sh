#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from the shared corpus (HIVEWARD_CORPUS, default ../shared/corpus)
# and the repository's examples/ and rules/, copying small files and cutting big ones down to a
# size libFuzzer mutates quickly. Nothing here is committed: fuzz/corpus/ is git-ignored, and the
# real hives and logs must never be copied into the repository.
#
# Usage: fuzz/seed.sh [--fresh]   (--fresh empties fuzz/corpus/ first, dropping what earlier
# runs found). Needs python3. Runs from anywhere; paths are relative to the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."

corpus="${HIVEWARD_CORPUS:-../shared/corpus}"
out=fuzz/corpus
if [ "${1:-}" = "--fresh" ]; then
  rm -rf "$out"
fi
if [ ! -d "$corpus" ]; then
  echo "seed.sh: no shared corpus at $corpus (set HIVEWARD_CORPUS); seeding from examples/ only" >&2
fi

# A baseline to seed from: the sample bundle's, when the binary is built (CI builds it first).
# A partial result to seed from: the sample bundle scanned as the only shard.
baseline_tmp=$(mktemp)
partial_tmp=$(mktemp)
trap 'rm -f "$baseline_tmp" "$partial_tmp"' EXIT
if [ -x target/debug/hiveward ]; then
  target/debug/hiveward scan examples/bundle --fail-on never --format json -o /dev/null \
    --write-baseline "$baseline_tmp" >/dev/null 2>&1 || true
  target/debug/hiveward scan examples/bundle --shard 1/1 --partial "$partial_tmp" \
    >/dev/null 2>&1 || true
fi

python3 - "$corpus" "$out" "$baseline_tmp" "$partial_tmp" <<'PY'
import hashlib, os, re, struct, sys

corpus, out, baseline, partial = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
HIVE_MAX = 256 * 1024        # hives are cut to whole hive bins within this size
EVTX_MAX = 4096 + 2 * 65536  # file header and the first two chunks
LOG_MAX = 512 * 1024         # transaction logs keep the whole entries that fit in this size
counts = {}

def put(target, name, data):
    folder = os.path.join(out, target)
    os.makedirs(folder, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[-80:]
    digest = hashlib.sha1(data).hexdigest()[:10]
    with open(os.path.join(folder, f"seed-{safe}-{digest}"), "wb") as f:
        f.write(data)
    counts[target] = counts.get(target, 0) + 1

def files(root):
    if not os.path.isdir(root):
        return []
    found = []
    for folder, _, names in os.walk(root):
        found.extend(os.path.join(folder, name) for name in names)
    return sorted(found)

def read(path):
    with open(path, "rb") as f:
        return f.read()

def checksum(block):
    value = 0
    for (word,) in struct.iter_unpack("<I", block[:508]):
        value ^= word
    return {0: 1, 0xFFFFFFFF: 0xFFFFFFFE}.get(value, value)

def cut_hive(data):
    """The base block and the whole hive bins that fit in HIVE_MAX, with the declared size and
    the checksum made to match."""
    if len(data) <= HIVE_MAX:
        return data
    end = 4096
    while end + 32 <= len(data) and data[end:end + 4] == b"hbin":
        size = struct.unpack_from("<I", data, end + 8)[0]
        if size < 4096 or end + size > HIVE_MAX:
            break
        end += size
    if end == 4096:
        return data[:HIVE_MAX]
    cut = bytearray(data[:end])
    struct.pack_into("<I", cut, 0x28, end - 4096)
    struct.pack_into("<I", cut, 0x1FC, checksum(cut))
    return bytes(cut)

def cut_log(data):
    """A new-format log with the whole entries that fit in LOG_MAX."""
    if len(data) <= LOG_MAX:
        return data
    end = 512
    while data[end:end + 4] == b"HvLE":
        size = struct.unpack_from("<I", data, end + 4)[0]
        if size < 512 or end + size > LOG_MAX:
            break
        end += size
    return data[:max(end, 512)]

def recovery_input(flags, primary, log1, log2):
    return bytes([flags]) + struct.pack("<II", len(primary), len(log1)) + primary + log1 + log2

def is_primary(data):
    return data[:4] == b"regf" and len(data) >= 512 and struct.unpack_from("<I", data, 0x1C)[0] == 0

# Hives: the sample bundle and every primary hive of the corpus.
hives = [p for p in files("examples/bundle") if p.endswith(".HIV")]
hives += [p for p in files(os.path.join(corpus, "hives"))]
for path in hives:
    data = read(path)
    if is_primary(data):
        put("hive_walk", os.path.basename(path), cut_hive(data))
        # A dirty primary without logs, for the recovery target.
        put("hive_recovery", "nolog-" + os.path.basename(path),
            recovery_input(0, cut_hive(data), b"", b""))

# Transaction logs: each primary with the .LOG1/.LOG2 beside it (any case), cut to size.
for path in files(os.path.join(corpus, "hives")):
    base = path
    logs = [p for p in files(os.path.dirname(path))
            if p.lower() in (base.lower() + ".log1", base.lower() + ".log2")]
    if not logs or not is_primary(read(path)):
        continue
    primary = read(path)
    if len(primary) > 2 * 1024 * 1024:
        primary = cut_hive(primary)  # the logs then reach past it, as after a bad copy
    logs.sort(key=str.lower)
    log1 = cut_log(read(logs[0]))
    log2 = cut_log(read(logs[1])) if len(logs) > 1 else b""
    for flags in (0, 3):
        put("hive_recovery", f"{flags}-" + os.path.basename(path),
            recovery_input(flags, primary, log1, log2))

# Event logs: the file header and the first chunks of each corpus log.
for path in files(os.path.join(corpus, "evtx")):
    data = read(path)
    if data[:8] == b"ElfFile\0":
        put("evtx_read", os.path.basename(path), data[:EVTX_MAX])

# .reg exports: the sample bundle's (UTF-16LE, as `reg export` writes) and their UTF-8 sources.
for path in files("examples/bundle") + files("examples/bundle-src"):
    if path.endswith(".reg"):
        put("reg_parse", os.path.basename(path), read(path))

# Waivers: the sample file and the [[waiver]] examples in the docs.
put("waivers", "examples-waivers.toml", read("examples/waivers.toml"))
for path in files("docs"):
    if path.endswith(".md"):
        text = read(path).decode("utf-8", "replace")
        for index, block in enumerate(re.findall(r"```toml\n(.*?)```", text, re.S)):
            if "[[waiver]]" in block:
                put("waivers", f"{os.path.basename(path)}-{index}.toml", block.encode())

# Site configuration: the `hiveward.toml` examples in the docs.
for path in files("docs"):
    if path.endswith(".md"):
        text = read(path).decode("utf-8", "replace")
        for index, block in enumerate(re.findall(r"```toml\n(.*?)```", text, re.S)):
            if re.search(r"^\[(report|scan|rules|severity|params)\]", block, re.M):
                put("site_config", f"{os.path.basename(path)}-{index}.toml", block.encode())

# Partial results: the sample bundle's single shard, when the binary could write it.
if os.path.getsize(partial) > 0:
    put("partial", "examples-bundle.partial.json", read(partial))

# Baselines: the sample bundle's, when the binary could write it.
if os.path.getsize(baseline) > 0:
    put("baseline", "examples-bundle.json", read(baseline))
for path in files("docs"):
    if path.endswith(".md"):
        text = read(path).decode("utf-8", "replace")
        for index, block in enumerate(re.findall(r"```json\n(.*?)```", text, re.S)):
            if '"fingerprints"' in block:
                put("baseline", f"{os.path.basename(path)}-{index}.json", block.encode())

# Rule packs: each built-in pack whole, and each rule alone with its pack's manifest and
# helpers, in the layout fuzz/src/harness.rs splits (NUL-separated; `lib/NAME` first lines).
for pack in sorted(os.listdir("rules")):
    folder = os.path.join("rules", pack)
    if not os.path.isfile(os.path.join(folder, "pack.toml")):
        continue
    manifest = read(os.path.join(folder, "pack.toml"))
    rules = [read(p) for p in files(folder)
             if p.endswith(".rhai") and os.path.dirname(p) == folder]
    libs = [b"lib/" + os.path.basename(p)[:-5].encode() + b"\n" + read(p)
            for p in files(os.path.join(folder, "lib")) if p.endswith(".rhai")]
    put("rule_pack", pack, b"\0".join([manifest] + rules + libs))
    for index, rule in enumerate(rules):
        put("rule_pack", f"{pack}-{index}", b"\0".join([manifest, rule] + libs))

for target in sorted(counts):
    print(f"seeded {target}: {counts[target]} file(s)")
PY
