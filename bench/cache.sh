#!/usr/bin/env bash
# The cache benchmarks (issue 7). Prints markdown tables; judges nothing.
#
#   bash bench/cache.sh            # eval + speed (10k, 100k, 1M entries) + hit latency
#   QUICK=1 bash bench/cache.sh    # 10k and 100k entries, 5,000-request eval traffic
#   ONLY=quality|speed|latency bash bench/cache.sh
#
#  1. quality: build/arbitra-cache-eval (bench/cache_eval.cpp): precision and hit
#     rate per embedder (ngram; words when the vectors can be fetched), static
#     threshold sweep vs learned thresholds, on bench/cache_eval/pairs.txt and
#     template traffic;
#  2. speed: build/arbitra-cache-speed (bench/cache_speed.cpp): lookup latency
#     excluding embedding at 10k / 100k / 1M entries in one namespace (recall
#     against brute force; single-pass p99 and a noise floor), embedder cost
#     per request, memory per entry, the index build of a snapshot reload on
#     1 thread vs every core, and RSS against the memory bound (one namespace,
#     200 namespaces);
#  3. the gateway's latency on a cache hit vs calling the simulator directly and
#     vs a miss through the gateway (arbitra-loadgen, 300 rps, 5 s).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/arbitra-ccache}"
ninja -C "$BUILD" arbitra arbitra-sim arbitra-loadgen arbitra-cache-eval arbitra-cache-speed >/dev/null

vectors=""
if command -v npm >/dev/null && command -v node >/dev/null; then
  vectors=$(bash scripts/fetch_word_vectors.sh 2>/dev/null || true)
fi
words_args=()
[ -n "$vectors" ] && words_args=(--word-vectors "$vectors")
sizes=10000,100000,1000000
requests=20000
bulk=100000
if [ "${QUICK:-0}" = 1 ]; then sizes=10000,100000; requests=5000; bulk=20000; fi

echo "# Cache benchmarks ($(date -u +%Y-%m-%d), $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs))"
echo
want() { [ -z "${ONLY:-}" ] || [ "$ONLY" = "$1" ]; }
if want quality; then
  echo "## 1. Quality"
  echo
  "$BUILD/arbitra-cache-eval" --requests "$requests" "${words_args[@]}"
fi
if want speed; then
  echo "## 2. Speed"
  echo
  # Built on every core, measured pinned to core 0. With CPU_LOCK=FILE (and
  # no outer flock) the build takes FILE shared and the measurement exclusive.
  lock_args=()
  [ -n "${CPU_LOCK:-}" ] && lock_args=(--lock "$CPU_LOCK")
  "$BUILD/arbitra-cache-speed" --sizes "$sizes" --build-threads "$(nproc)" --pin 0 \
    "${lock_args[@]}" "${words_args[@]}"
  echo
  "$BUILD/arbitra-cache-speed" --bulk "$bulk"   # snapshot reload: 1 thread vs every core
  echo
  # The bound against RSS, each shape in its own process (glibc malloc; the
  # gateway links tcmalloc: LD_PRELOAD it to see that allocator).
  for ns in 1 200; do "$BUILD/arbitra-cache-speed" --memory 256 --memory-namespaces "$ns" | tail -n +"$([ $ns = 1 ] && echo 1 || echo 5)"; done
  echo
fi
want latency || exit 0

echo "## 3. Gateway latency on a hit (300 rps, 5 s, one connection per 50 rps)"
echo
work=$(mktemp -d)
trap 'kill $(cat "$work"/*.pid 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
"$BUILD/arbitra-sim" --port 0 >"$work/sim.log" 2>&1 & echo $! >"$work/sim.pid"
for _ in $(seq 50); do grep -q listening "$work/sim.log" && break; sleep 0.1; done
sim_port=$(grep -o 'listening on http://[^ ]*' "$work/sim.log" | sed 's/.*://')
cat >"$work/gw.yaml" <<YAML
server: { host: 127.0.0.1, port: 0, threads: 1 }
providers:
  sim: { kind: openai, base_url: "http://127.0.0.1:$sim_port/v1", api_key: "\${SIM_KEY}" }
models:
  fast: [{ provider: sim, model: fast, price: { input: 0.15, output: 0.60 } }]
cache:
  default: { mode: semantic }
YAML
SIM_KEY=x "$BUILD/arbitra" serve --config "$work/gw.yaml" >"$work/gw.log" 2>&1 & echo $! >"$work/gw.pid"
for _ in $(seq 50); do grep -q "arbitra listening" "$work/gw.log" && break; sleep 0.1; done
gw_port=$(grep -o 'arbitra listening on http://[^ ]*' "$work/gw.log" | sed 's/.*://')
echo '{"model":"fast","messages":[{"role":"user","content":"How do I reset my password?"}],"max_tokens":16}' >"$work/chat.json"
curl -s "http://127.0.0.1:$gw_port/v1/chat/completions" -H 'content-type: application/json' -d @"$work/chat.json" >/dev/null
sleep 0.2
load() { "$BUILD/arbitra-loadgen" --url "$1" --rate 300 --connections 6 --duration 5 --warmup 1 --body-file "$work/chat.json" "${@:2}"; }
field() { sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" <<<"$1"; }
direct=$(load "http://127.0.0.1:$sim_port/v1/chat/completions")
hit=$(load "http://127.0.0.1:$gw_port/v1/chat/completions")
miss=$(load "http://127.0.0.1:$gw_port/v1/chat/completions" --header "x-arbitra-cache: no-cache, no-store")
echo "| path | p50 µs | p99 µs | errors |"
echo "|---|---:|---:|---:|"
for row in "simulator directly:$direct" "gateway, cache hit (exact):$hit" "gateway, miss (no-cache, upstream):$miss"; do
  name=${row%%:*}; json=${row#*:}
  echo "| $name | $(field "$json" p50_us) | $(field "$json" p99_us) | $(field "$json" errors) |"
done
echo
curl -s "http://127.0.0.1:$gw_port/v1/chat/completions" -H 'content-type: application/json' -d @"$work/chat.json" -D - -o /dev/null | grep -i x-arbitra-cache || true
