#!/usr/bin/env bash
# bench/ledger.sh: what the ledger costs. A benchmark, not a test: it prints
# markdown tables and asserts nothing.
#
#  1. Write throughput (build/arbitra-ledger-speed): records/s committed with
#     group commit, next to the baseline of one transaction per record; SQLite
#     always, Postgres too when BENCH_POSTGRES (a libpq connection string) is
#     set or scripts/postgres.sh can start one.
#  2. The gateway's added latency with the ledger on vs off: the same fixed
#     rate (BENCH_RATE, default 5000 req/s, open loop) through arbitra with a
#     ledger file and with --no-ledger, against the simulator; runs alternate
#     on/off BENCH_ROUNDS times (default 3) and the table gives the medians.
#     "added" = the proxy's p50/p99 minus the simulator's own, measured in the
#     same round. The gateway is pinned alone to core 1; the simulator and the
#     load generator share core 0.
#
#   bench/ledger.sh [--out FILE]     BENCH_DURATION [8] s per run, BENCH_SKIP_BUILD=1
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build}
RATE=${BENCH_RATE:-5000}
DURATION=${BENCH_DURATION:-8}
ROUNDS=${BENCH_ROUNDS:-3}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
OUT_FILE=""
[[ ${1:-} == --out ]] && OUT_FILE=$2
say() { echo "[bench] $*" >&2; }

if [[ ${BENCH_SKIP_BUILD:-0} != 1 ]]; then
  [[ -f $BUILD/build.ninja ]] || cmake -S "$ROOT" -B "$BUILD" -G Ninja >/dev/null
  ninja -C "$BUILD" arbitra arbitra-sim arbitra-loadgen arbitra-ledger-speed >/dev/null
fi
WORK=$(mktemp -d /tmp/arbitra-ledger-bench.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# The gateway under test gets core 1 to itself; the simulator and the load
# generator share core 0, so the gateway's own CPU (and the ledger writer's)
# is what is measured, not a core shared with the upstream.
if [[ $(nproc) -ge 2 ]] && command -v taskset >/dev/null; then
  SERVER_PIN=(taskset -c 1); LOAD_PIN=(taskset -c 0); SIM_PIN=(taskset -c 0)
else
  SERVER_PIN=(); LOAD_PIN=(); SIM_PIN=()
fi

# ---- 1. write throughput -----------------------------------------------------------
PG=${BENCH_POSTGRES:-}
if [[ -z $PG ]] && [[ $(id -u) == 0 ]]; then PG=$(bash "$ROOT/scripts/postgres.sh" 2>/dev/null || true); fi
say "ledger write throughput"
THROUGHPUT=$("$BUILD/arbitra-ledger-speed" --records 200000 --threads 2 ${PG:+--postgres "$PG"})

# ---- 2. gateway added latency, ledger on vs off -------------------------------------
cat >"$WORK/sim.yaml" <<'YAML'
seed: 1
models:
  - name: "*"
    output_tokens: 16
YAML
"${SIM_PIN[@]}" "$BUILD/arbitra-sim" --port 0 --config "$WORK/sim.yaml" >"$WORK/sim.log" 2>&1 &
PIDS+=($!)
wait_port() {  # wait_port LOG REGEX -> port
  for _ in $(seq 200); do
    local p; p=$(grep -m1 -oE "$2" "$1" 2>/dev/null | grep -oE '[0-9]+$' || true)
    [[ -n $p ]] && { echo "$p"; return 0; }
    sleep 0.1
  done
  cat "$1" >&2; return 1
}
SIM_PORT=$(wait_port "$WORK/sim.log" 'listening on http://[0-9.]+:[0-9]+')
cat >"$WORK/gw.yaml" <<YAML
server: { host: 127.0.0.1, port: 0, threads: 1 }
providers:
  sim: { kind: openai, base_url: "http://127.0.0.1:$SIM_PORT/v1" }
models:
  bench-model:
    provider: sim
    model: bench-model
    price: { input: "0.15", output: "0.6" }
YAML
start_gateway() {  # start_gateway NAME ARGS... -> sets GW_PORT, GW_PID
  local name=$1; shift
  "${SERVER_PIN[@]}" "$BUILD/arbitra" serve --config "$WORK/gw.yaml" --quiet "$@" >"$WORK/$name.log" 2>&1 &
  GW_PID=$!
  PIDS+=("$GW_PID")
  GW_PORT=$(wait_port "$WORK/$name.log" 'listening on http://[0-9.]+:[0-9]+')
}
start_gateway on --ledger "$WORK/bench.db"
ON_PORT=$GW_PORT; ON_PID=$GW_PID
start_gateway off --no-ledger
OFF_PORT=$GW_PORT
echo '{"model":"bench-model","messages":[{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":16}' >"$WORK/chat.json"
run() {  # run URL OUT
  "${LOAD_PIN[@]}" "$BUILD/arbitra-loadgen" --url "$1" --rate "$RATE" --connections "$CONNECTIONS" \
    --duration "$DURATION" --warmup 2 --body-file "$WORK/chat.json" >"$2"
}
for round in $(seq "$ROUNDS"); do
  say "round $round/$ROUNDS at $RATE req/s: direct, ledger on, ledger off"
  run "http://127.0.0.1:$SIM_PORT/v1/chat/completions" "$WORK/direct.$round.json"
  run "http://127.0.0.1:$ON_PORT/v1/chat/completions" "$WORK/on.$round.json"
  run "http://127.0.0.1:$OFF_PORT/v1/chat/completions" "$WORK/off.$round.json"
done
RECORDS=$(sqlite3 "$WORK/bench.db" "SELECT COUNT(*) FROM records" 2>/dev/null || echo "?")
RSS_ON=$(awk '/^VmHWM/ {print $2}' "/proc/$ON_PID/status")

TABLE=$(node - "$WORK" "$ROUNDS" "$RATE" "$RECORDS" "$RSS_ON" <<'JS'
const fs = require('fs');
const [work, rounds, rate, records, rss] = process.argv.slice(2);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const read = (name, r) => JSON.parse(fs.readFileSync(`${work}/${name}.${r}.json`, 'utf8'));
const rows = {};
for (const name of ['on', 'off']) {
  const added50 = [], added99 = [], rps = [], errors = [];
  for (let r = 1; r <= Number(rounds); r++) {
    const d = read('direct', r), x = read(name, r);
    added50.push(x.p50_us - d.p50_us);
    added99.push(x.p99_us - d.p99_us);
    rps.push(x.rps);
    errors.push(x.errors);
  }
  rows[name] = { p50: median(added50), p99: median(added99), rps: median(rps), errors: Math.max(...errors), all99: added99 };
}
let out = `| ledger | offered req/s | achieved req/s | added p50 µs | added p99 µs | errors |\n|---|---:|---:|---:|---:|---:|\n`;
out += `| on (SQLite, group commit) | ${rate} | ${rows.on.rps.toFixed(0)} | ${rows.on.p50} | ${rows.on.p99} | ${rows.on.errors} |\n`;
out += `| off (--no-ledger) | ${rate} | ${rows.off.rps.toFixed(0)} | ${rows.off.p50} | ${rows.off.p99} | ${rows.off.errors} |\n`;
const ratio = rows.off.p99 > 0 ? rows.on.p99 / rows.off.p99 : NaN;
out += `\nadded p99 per round (µs): on [${rows.on.all99.join(', ')}], off [${rows.off.all99.join(', ')}]\n`;
out += `\nadded p99, ledger on / off: **${ratio.toFixed(2)}x** (target <= 1.10x); medians of ${rounds} rounds; ` +
       `${records} records written by the ledger-on gateway; its peak RSS ${(rss / 1024).toFixed(1)} MB\n`;
process.stdout.write(out);
JS
)
{
  echo "### Ledger write throughput"
  echo
  echo "$THROUGHPUT"
  echo
  echo "### Gateway added latency, ledger on vs off ($(nproc) cores, $(date -u +%Y-%m-%d))"
  echo
  echo "$TABLE"
} | tee ${OUT_FILE:+"$OUT_FILE"}
