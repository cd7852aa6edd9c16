#!/usr/bin/env bash
# Whole-process cost of `mxproxy generate` (issue 9): every output, --dry-run and a real
# write, against a hello-world binary built with the same release profile. Median of many
# runs (hyperfine), ratio to hello world, binary size, peak memory (GNU time).
# Writes a Markdown table to target/bench/process.md (or $1). Run: bash benches/process.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out_md="${1:-target/bench/process.md}"
runs="${MXPROXY_BENCH_PROCESS_RUNS:-200}"

need() { command -v "$1" >/dev/null || { echo "process.sh: needs $1 (apt-get install -y $2)" >&2; exit 1; }; }
need hyperfine hyperfine
need python3 python3
[ -x /usr/bin/time ] || { echo "process.sh: needs GNU time (apt-get install -y time)" >&2; exit 1; }

cargo build --release --locked --quiet
mxproxy="$PWD/target/release/mxproxy"

# Hello world with exactly the [profile.release] section of Cargo.toml.
work="$PWD/target/bench/process"
rm -rf "$work" && mkdir -p "$work/hello/src"
{
  printf '[package]\nname = "hello"\nversion = "0.1.0"\nedition = "2024"\n\n'
  awk '/^\[profile\.release\]/{on=1; print; next} /^\[/{on=0} on' Cargo.toml
} > "$work/hello/Cargo.toml"
echo 'fn main() { println!("Hello, world!"); }' > "$work/hello/src/main.rs"
cargo build --release --quiet --manifest-path "$work/hello/Cargo.toml" --target-dir "$work/hello/target"
hello="$work/hello/target/release/hello"

# All outputs: every proxy, the compose stack, federation on its own port.
flags=(generate --server-name example.com --proxy nginx,apache,caddy,traefik,haproxy
       --compose --federation-port 8448 --quiet)
dry_out="$work/dry"   # never created: --dry-run diffs against nothing and writes nothing
write_out="$work/write"

# The machine is shared: hyperfine runs one command after the other, so a load change
# between them would skew the ratio. Five short batches instead, ratio taken per batch.
batches=5
for batch in $(seq "$batches"); do
  hyperfine -N --warmup 5 --runs "$((runs / batches))" --export-json "$work/hyperfine-$batch.json" \
    --command-name hello "$hello" \
    --command-name version "$mxproxy --version" \
    --command-name dry-run "$mxproxy ${flags[*]} --out $dry_out --dry-run" \
    --command-name write --prepare "rm -rf $write_out" "$mxproxy ${flags[*]} --out $write_out" \
    >&2
done

peak_kib() { # median of 9 runs of GNU time's maximum resident set size
  for _ in 1 2 3 4 5 6 7 8 9; do
    [ "$1" = write ] && rm -rf "$write_out"
    shift_cmd=("${@:2}")
    /usr/bin/time -f '%M' -o "$work/time" "${shift_cmd[@]}" >/dev/null 2>&1
    cat "$work/time"
  done | sort -n | sed -n 5p
}
mem_hello=$(peak_kib hello "$hello")
mem_version=$(peak_kib version "$mxproxy" --version)
mem_dry=$(peak_kib dry "$mxproxy" "${flags[@]}" --out "$dry_out" --dry-run)
mem_write=$(peak_kib write "$mxproxy" "${flags[@]}" --out "$write_out")

files=$(find "$write_out" -type f | wc -l)
python3 - "$work" "$batches" "$files" "$hello" "$mxproxy" "$mem_hello" "$mem_dry" "$mem_write" "$runs" "$mem_version" > "$out_md" <<'PY'
import json, os, statistics, sys
work, batches, files = sys.argv[1], int(sys.argv[2]), sys.argv[3]
hello, mxproxy = sys.argv[4], sys.argv[5]
mem = {"hello": sys.argv[6], "dry-run": sys.argv[7], "write": sys.argv[8],
       "version": sys.argv[10]}
runs = [{r["command"]: r for r in json.load(open(f"{work}/hyperfine-{b}.json"))["results"]}
        for b in range(1, batches + 1)]
size = {"hello": os.path.getsize(hello)}
size["version"] = size["dry-run"] = size["write"] = os.path.getsize(mxproxy)
print(f"`mxproxy generate` with every output (5 proxies, compose, federation on 8448), "
      f"{sys.argv[9]} runs each (hyperfine -N, in {batches} batches), against a hello world "
      f"built with the same release profile. Ratio: per batch, then the median.\n")
print("| process | median ms | × hello world | ratio range over batches | binary | peak RSS |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for name in ["hello", "version", "dry-run", "write"]:
    medians = [b[name]["median"] for b in runs]
    ratios = [b[name]["median"] / b["hello"]["median"] for b in runs]
    label = {"hello": "hello world", "version": "mxproxy --version (start-up alone)",
             "dry-run": "generate --dry-run",
             "write": f"generate (writes {files} files)"}[name]
    print(f"| {label} | {statistics.median(medians)*1000:.2f} | {statistics.median(ratios):.2f} | "
          f"{min(ratios):.2f}–{max(ratios):.2f} | {size[name]/1024/1024:.2f} MiB | "
          f"{int(mem[name])/1024:.1f} MiB |")
PY
cat "$out_md"
