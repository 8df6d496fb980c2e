#!/usr/bin/env bash
# CI check of the HTML report in headless Chromium, run from the repository root after the build:
#
#   bash .ci/html-check.sh [--update-screenshot]
#
# 1. writes the HTML and the JSON report of the sample bundle (examples/bundle, with
#    examples/waivers.toml, so that a waived finding shows) from one scan;
# 2. loads the HTML from its file in headless Chromium with no network, and fails on any
#    console message: an error, an uncaught exception, a Content-Security-Policy refusal (the
#    page's own script logs nothing). A canary page that logs first proves the messages are seen;
# 3. dumps the DOM after the page's script ran, and requires every number on the page that has a
#    data-metric to equal what the JSON report says (data-count and the text shown), the
#    filters to be shown and to count every finding, and nothing to be loaded from anywhere;
# 4. takes a screenshot (1280 × 2000); with --update-screenshot, copies it to
#    docs/images/html-report.png, the image the README shows.
#
# It builds nothing: it runs target/debug/hiveward, or HIVEWARD. CHROMIUM names the browser
# (default: chromium, Debian's package). python3 reads the DOM and the JSON.
set -euo pipefail
cd "$(dirname "$0")/.."

update=""
case "${1:-}" in
  "") ;;
  --update-screenshot) update=1 ;;
  *) echo "usage: $0 [--update-screenshot]" >&2; exit 2 ;;
esac

hiveward="${HIVEWARD:-target/debug/hiveward}"
[ -x "$hiveward" ] || { echo "no hiveward binary at $hiveward: build first (cargo build)" >&2; exit 1; }
chromium="${CHROMIUM:-chromium}"
command -v "$chromium" >/dev/null || { echo "no $chromium: apt-get install -y chromium" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== html: the sample bundle's HTML and JSON reports"
"$hiveward" scan examples/bundle --waivers examples/waivers.toml --format html \
  -o "$work/report.html" --output-format "json:$work/report.json" --fail-on never --allow-partial
page="file://$work/report.html"

# No network: every host name resolves to nothing, and background services stay off.
browser=(
  "$chromium" --headless --disable-gpu --no-sandbox --no-first-run --no-default-browser-check
  --disable-extensions --disable-background-networking --disable-component-update --disable-sync
  --disable-default-apps --host-resolver-rules="MAP * ~NOTFOUND"
  --user-data-dir="$work/profile" --enable-logging=stderr --v=0
)

# Console messages, as Chromium logs them: `INFO:CONSOLE(LINE)] "message", source: URL (LINE)`.
console_lines() { grep -E ':CONSOLE[:(]' "$1" || true; }

echo "== html: console messages are seen (canary page)"
timeout 120 "${browser[@]}" --dump-dom 'data:text/html,<script>console.error("canary")</script>' \
  >"$work/canary.dom" 2>"$work/canary.log" || true
if ! console_lines "$work/canary.log" | grep -q canary; then
  echo "Chromium's log shows no console message of the canary page: the check cannot see errors" >&2
  cat "$work/canary.log" >&2
  exit 1
fi

echo "== html: load, run the script and dump the DOM"
timeout 120 "${browser[@]}" --dump-dom "$page" >"$work/dom.html" 2>"$work/dom.log"
echo "== html: screenshot"
timeout 120 "${browser[@]}" --screenshot="$work/report.png" --window-size=1280,2000 \
  --hide-scrollbars "$page" >"$work/shot.out" 2>"$work/shot.log"
[ -s "$work/report.png" ] || { echo "no screenshot was written" >&2; cat "$work/shot.log" >&2; exit 1; }

failed=""
for log in "$work/dom.log" "$work/shot.log"; do
  messages=$(console_lines "$log")
  if [ -n "$messages" ]; then
    echo "console messages while loading the report:" >&2
    echo "$messages" >&2
    failed=1
  fi
done
[ -z "$failed" ] || exit 1

echo "== html: the numbers on the page equal the JSON report's"
python3 - "$work/dom.html" "$work/report.json" <<'PY'
import json
import sys
from html.parser import HTMLParser

dom_path, json_path = sys.argv[1], sys.argv[2]
report = json.load(open(json_path, encoding="utf-8"))


class Page(HTMLParser):
    """Collects the data-metric elements with their text, and what the page would load."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.metrics = []  # [name, data-count, text]; metric elements hold text only
        self.current = None
        self.loads = []
        self.filters_hidden = None
        self.status = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        loaders = ("img", "script", "iframe", "embed", "object", "audio", "video", "source")
        if tag in loaders and attrs.get("src") is not None:
            self.loads.append(f"<{tag} src={attrs['src']}>")
        if tag == "link" and not (attrs.get("rel") == "icon" and attrs.get("href", "").startswith("data:")):
            self.loads.append(f"<link rel={attrs.get('rel')} href={attrs.get('href')}>")
        if tag == "form" and attrs.get("id") == "filters":
            self.filters_hidden = "hidden" in attrs
        if tag == "output" and attrs.get("id") == "filter-status":
            self.status = ""
            self.current = "status"
        if "data-metric" in attrs:
            self.metrics.append([attrs["data-metric"], attrs.get("data-count"), ""])
            self.current = len(self.metrics) - 1

    def handle_endtag(self, tag):
        self.current = None

    def handle_data(self, data):
        if self.current == "status":
            self.status += data
        elif self.current is not None:
            self.metrics[self.current][2] += data


page = Page()
page.feed(open(dom_path, encoding="utf-8").read())

findings = report["findings"]
hosts = report["hosts"]
rules = report["rules"]


def count(keep):
    return sum(1 for finding in findings if keep(finding))


def expected(name):
    parts = name.split(".")
    if parts[0] == "summary" and len(parts) == 2:
        return report["summary"][parts[1]]
    if parts[0] == "counts" and len(parts) == 2:
        return report["counts"][parts[1]]
    if parts[0] == "coverage" and len(parts) == 2:
        return sum(host["coverage"][parts[1]] for host in hosts)
    if parts[0] == "findings" and len(parts) == 2:
        if parts[1] == "open":
            return count(lambda f: "suppression" not in f)
        kind = {"waived": "waiver", "baselined": "baseline"}[parts[1]]
        return count(lambda f: f.get("suppression", {}).get("kind") == kind)
    if parts[0] == "host":
        host = hosts[int(parts[1])]
        rest = parts[2:]
        if rest == ["findings"]:
            return count(lambda f: f["host"] == host["name"])
        if len(rest) == 2 and rest[0] == "severity":
            return count(lambda f: f["host"] == host["name"] and f["severity"] == rest[1])
        if len(rest) == 2 and rest[0] == "coverage":
            return host["coverage"][rest[1]]
    if parts[0] == "rule":
        rule = rules[int(parts[1])]["id"]
        rest = parts[2:]
        if rest == ["findings"]:
            return count(lambda f: f["rule"] == rule)
        if len(rest) == 2 and rest[0] == "outcome":
            return sum(
                1
                for host in hosts
                for outcome in host["outcomes"]
                if outcome["rule"] == rule and outcome["outcome"] == rest[1]
            )
    raise SystemExit(f"unknown metric on the page: {name}")


errors = []
names = set()
for name, shown_count, text in page.metrics:
    names.add(name)
    want = expected(name)
    if shown_count is None or int(shown_count) != want:
        errors.append(f"{name}: data-count {shown_count}, JSON {want}")
    if text.strip() != str(want):
        errors.append(f"{name}: shows {text.strip()!r}, JSON {want}")

required = [
    "summary.findings", "summary.hosts", "summary.rules", "summary.checked", "summary.passed",
    "summary.not_applicable", "coverage.not_checked", "coverage.errors", "findings.open",
    "findings.waived", "findings.baselined",
]
required += [f"counts.{s}" for s in ("critical", "high", "medium", "low", "info")]
for index in range(len(hosts)):
    required += [f"host.{index}.severity.{s}" for s in ("critical", "high", "medium", "low", "info")]
    required += [f"host.{index}.coverage.{c}" for c in ("checked", "rules", "not_applicable", "not_checked", "errors")]
required += [f"rule.{index}.findings" for index in range(len(rules))]
errors += [f"{name} is not on the page" for name in required if name not in names]

if page.loads:
    errors.append(f"the page loads resources: {page.loads}")
if page.filters_hidden is not False:
    errors.append("the filters are not shown: the page's script did not run")
want_status = f"{len(findings)} finding(s)"
if (page.status or "").strip() != want_status:
    errors.append(f"the filter status reads {page.status!r}, not {want_status!r}")

if errors:
    print("the HTML report disagrees with the JSON report:", file=sys.stderr)
    for error in errors:
        print(f"  {error}", file=sys.stderr)
    sys.exit(1)
print(f"   {len(page.metrics)} number(s) on the page equal the JSON report's "
      f"({len(findings)} finding(s), {len(hosts)} host(s), {len(rules)} rule(s))")
PY

if [ -n "$update" ]; then
  mkdir -p docs/images
  cp "$work/report.png" docs/images/html-report.png
  echo "== html: screenshot written to docs/images/html-report.png"
else
  echo "== html: screenshot taken ($(wc -c <"$work/report.png") bytes); --update-screenshot copies it to docs/images/html-report.png"
fi
