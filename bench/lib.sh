# Set-up shared by the fleet benchmarks (bench/fleet.sh, bench/floor.sh); sourced, not run.
#
# Source it before the script changes folder: a relative HIVEWARD is taken relative to the
# folder the script was started in.
#   source "$(dirname "$0")/lib.sh"
#   cd "$(dirname "$0")/.."
if [ -n "${HIVEWARD:-}" ] && [ "${HIVEWARD#/}" = "$HIVEWARD" ] && [ -e "$HIVEWARD" ]; then
  HIVEWARD="$PWD/$HIVEWARD"
fi

# Exits unless GNU time and python3 are there.
bench_require_tools() {
  [ -x /usr/bin/time ] || { echo "GNU time not found: apt-get install time" >&2; exit 2; }
  command -v python3 >/dev/null || { echo "python3 not found" >&2; exit 2; }
}

# Prints the binary to measure: $HIVEWARD, or a fresh `cargo build --release`.
bench_binary() {
  local bin
  if [ -n "${HIVEWARD:-}" ]; then
    bin=$HIVEWARD
  else
    cargo build --release --quiet >&2
    bin="${CARGO_TARGET_DIR:-target}/release/hiveward"
  fi
  [ -x "$bin" ] || { echo "no hiveward binary at $bin" >&2; exit 2; }
  printf '%s\n' "$bin"
}

# Makes DIR into an N-host bundle (bench/make-bundle.sh, with any further flags) unless it
# already holds N hosts.
bench_bundle() { # dir, n, make-bundle flags...
  local dir=$1 n=$2
  shift 2
  local have=0
  if [ -d "$dir" ]; then
    have=$(find "$dir" -mindepth 1 -maxdepth 1 -name 'host*' | wc -l)
  fi
  if [ "$have" != "$n" ]; then
    bash bench/make-bundle.sh "$dir" "$n" --force "$@" >&2
  fi
}

# Prints the scan flags a bundle needs: --follow-links when make-bundle.sh fell back to
# symbolic links.
bench_link_flags() { # dir
  if [ -n "$(find "$1" -mindepth 2 -maxdepth 2 -type l -print -quit)" ]; then
    printf '%s\n' --follow-links
  fi
}
