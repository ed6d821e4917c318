#!/usr/bin/env bash
# bench/run.sh: Arbitra's gateway overhead. A benchmark, not a test: it
# measures and prints a markdown table; it asserts nothing and exits 0 when the
# measurements ran.
#
# The same loads go to four targets (mode by mode, the targets back to back):
#   direct    the provider simulator (build/arbitra-sim), no proxy: the baseline
#   nginx     nginx as a plain reverse proxy (1 worker, upstream keep-alive): the floor
#   arbitra   build/arbitra serve --threads 1, one OpenAI provider = the simulator
#   portkey   Portkey's open-source AI gateway (@portkey-ai/gateway, pinned in
#             bench/package.json), OpenAI provider with custom host = the
#             simulator; non-streamed only (its streaming fails on Node 20:
#             its issues #1389 and #1550)
# Loads (arbitra-loadgen, bench/loadgen.cpp), small OpenAI chat bodies, 16
# output tokens: fixed rate (open loop, latency from the scheduled send) and
# max rate (closed loop), each non-streamed and streamed. Then the memory
# check: 1,000 idle keep-alive connections held open against each proxy while
# /proc/PID/status is read (VmRSS now, VmHWM = peak since start).
#
# On 2+ cores the servers (simulator and proxy) are pinned to core 1 and the
# load generator to core 0 with taskset.
#
#   bench/run.sh [--out FILE]       FILE: also write the table (markdown) there
#
# Rounds: with BENCH_ROUNDS=N (default 1) every mode is run N times over the
# targets, the targets' order rotating each round; a fixed-rate load's
# "added" is then taken per round (the target against direct measured next
# to it) and the table reports medians over the rounds, with each round's
# ratio to nginx. On a shared machine one round's direct run can sit 100 µs
# off the next; use 5 or more rounds for the ratios.
#
# Environment knobs (defaults in brackets): BENCH_RATE [500], BENCH_DURATION
# [8] and BENCH_WARMUP [2] seconds per run, BENCH_ROUNDS [1], BENCH_MODES ["fixed fixed-stream max
# max-stream"], BENCH_FIXED_CONNECTIONS [50],
# BENCH_MAX_CONNECTIONS [32], BENCH_HOLD [1000], BENCH_TARGETS ["direct nginx
# arbitra portkey"], BENCH_SKIP_BUILD=1, BUILD_DIR [build]. Loopback only.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
BUILD=${BUILD_DIR:-$ROOT/build}
RATE=${BENCH_RATE:-500}
DURATION=${BENCH_DURATION:-8}
WARMUP=${BENCH_WARMUP:-2}
FIXED_CONNECTIONS=${BENCH_FIXED_CONNECTIONS:-50}
MAX_CONNECTIONS=${BENCH_MAX_CONNECTIONS:-32}
HOLD=${BENCH_HOLD:-1000}
ROUNDS=${BENCH_ROUNDS:-1}
TARGETS=${BENCH_TARGETS:-direct nginx arbitra portkey}
OUT_FILE=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --out) OUT_FILE=$2; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

say() { echo "[bench] $*" >&2; }
has_target() { [[ " $TARGETS " == *" $1 "* ]]; }

# ---- what the bench needs -----------------------------------------------------
install_missing() {
  local apt=()
  command -v nginx >/dev/null || apt+=(nginx-light)
  command -v node >/dev/null || apt+=(nodejs)
  command -v npm >/dev/null || apt+=(npm)
  command -v curl >/dev/null || apt+=(curl)
  command -v taskset >/dev/null || apt+=(util-linux)
  command -v ninja >/dev/null || apt+=(ninja-build)
  if [[ ${#apt[@]} -gt 0 ]]; then
    say "installing ${apt[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt[@]}" >/dev/null
  fi
  if has_target portkey && [[ ! -f $BENCH/node_modules/@portkey-ai/gateway/build/start-server.js ]]; then
    # --ignore-scripts: its postinstall (patch-package) and prepare (husky) serve its own development.
    say "npm ci (Portkey gateway, pinned in bench/package.json)"
    (cd "$BENCH" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
  fi
}

build() {
  if [[ ${BENCH_SKIP_BUILD:-0} == 1 ]]; then return; fi
  [[ -f $BUILD/build.ninja ]] || cmake -S "$ROOT" -B "$BUILD" -G Ninja >/dev/null
  say "building arbitra, arbitra-sim, arbitra-loadgen in $BUILD"
  ninja -C "$BUILD" arbitra arbitra-sim arbitra-loadgen >/dev/null
}

install_missing
build
# Other work on the machine skews everything: say so in the output.
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
OTHERS=""
if pgrep -x cc1plus >/dev/null || pgrep -x ninja >/dev/null; then
  OTHERS="; **a compiler was running when the bench started: numbers are skewed**"
  say "warning: a compiler is running; the numbers will be skewed"
fi
LOADGEN=$BUILD/arbitra-loadgen
for bin in "$BUILD/arbitra" "$BUILD/arbitra-sim" "$LOADGEN"; do
  [[ -x $bin ]] || { echo "run.sh: $bin is missing" >&2; exit 2; }
done

# ---- processes, cleaned up on any exit -----------------------------------------
WORK=$(mktemp -d /tmp/arbitra-bench.XXXXXX)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

if [[ $(nproc) -ge 2 ]] && command -v taskset >/dev/null; then
  SERVER_PIN=(taskset -c 1)
  LOAD_PIN=(taskset -c 0)
  PINNING="servers (simulator + proxy under test) on core 1, load generator on core 0 (taskset)"
else
  SERVER_PIN=()
  LOAD_PIN=()
  PINNING="no pinning (fewer than 2 cores or no taskset)"
fi

# wait_line FILE REGEX: prints the first match, waiting up to 20 s for it.
wait_line() {
  local file=$1 regex=$2 line
  for _ in $(seq 200); do
    line=$(grep -m1 -oE "$regex" "$file" 2>/dev/null || true)
    if [[ -n $line ]]; then echo "$line"; return 0; fi
    sleep 0.1
  done
  echo "run.sh: timed out waiting for /$regex/ in $file:" >&2
  cat "$file" >&2
  return 1
}

# free_port: a loopback port nothing listens on (for servers that cannot bind 0).
free_port() {
  local port
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
  done
  return 1
}

wait_http() {
  for _ in $(seq 200); do
    curl -s -o /dev/null -m 1 "$1" && return 0
    sleep 0.1
  done
  echo "run.sh: $1 did not answer" >&2
  return 1
}

# The simulator: zero time to first token, 16 output tokens, as fast as it can.
"${SERVER_PIN[@]}" "$BUILD/arbitra-sim" --port 0 --output-tokens 16 >"$WORK/sim.log" 2>&1 &
SIM_PID=$!
PIDS+=("$SIM_PID")
SIM_PORT=$(wait_line "$WORK/sim.log" 'listening on http://127\.0\.0\.1:[0-9]+' | grep -oE '[0-9]+$')
say "arbitra-sim on 127.0.0.1:$SIM_PORT"

URL_direct=http://127.0.0.1:$SIM_PORT/v1/chat/completions

if has_target arbitra; then
  export BENCH_KEY=${BENCH_KEY:-bench-key}
  cat >"$WORK/arbitra.yaml" <<EOF
server: { host: 127.0.0.1, port: 0, threads: 1 }
providers:
  sim: { kind: openai, base_url: "http://127.0.0.1:$SIM_PORT/v1", api_key: "\${BENCH_KEY}" }
models:
  bench-model: [{ provider: sim, model: bench-model }]
EOF
  "${SERVER_PIN[@]}" "$BUILD/arbitra" serve --config "$WORK/arbitra.yaml" --port 0 --threads 1 --quiet \
    >"$WORK/arbitra.log" 2>&1 &
  ARBITRA_PID=$!
  PIDS+=("$ARBITRA_PID")
  ARBITRA_PORT=$(wait_line "$WORK/arbitra.log" 'arbitra listening on http://127\.0\.0\.1:[0-9]+' | grep -oE '[0-9]+$')
  URL_arbitra=http://127.0.0.1:$ARBITRA_PORT/v1/chat/completions
  ARBITRA_RSS_START=$(awk '/^VmRSS/ {print $2}' "/proc/$ARBITRA_PID/status")
  say "arbitra on 127.0.0.1:$ARBITRA_PORT (pid $ARBITRA_PID)"
fi

if has_target nginx; then
  NGINX_PORT=$(free_port)
  mkdir -p "$WORK/nginx"
  cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  keepalive_timeout 75s;
  keepalive_requests 1000000;
  upstream simulator {
    server 127.0.0.1:$SIM_PORT;
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location = /healthz {
      default_type application/json;
      return 200 '{"status":"ok"}';
    }
    location / {
      proxy_pass http://simulator;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }
}
EOF
  "${SERVER_PIN[@]}" nginx -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" \
    -g 'daemon off;' >"$WORK/nginx.log" 2>&1 &
  NGINX_PID=$!
  PIDS+=("$NGINX_PID")
  URL_nginx=http://127.0.0.1:$NGINX_PORT/v1/chat/completions
  wait_http "http://127.0.0.1:$NGINX_PORT/healthz"
  say "nginx on 127.0.0.1:$NGINX_PORT (master pid $NGINX_PID)"
fi

PORTKEY_HEADERS=(--header "x-portkey-provider: openai" --header "x-portkey-custom-host: http://127.0.0.1:$SIM_PORT/v1")
if has_target portkey; then
  PORTKEY_PORT=$(free_port)
  "${SERVER_PIN[@]}" node "$BENCH/node_modules/@portkey-ai/gateway/build/start-server.js" \
    --port="$PORTKEY_PORT" --headless >"$WORK/portkey.log" 2>&1 &
  PORTKEY_PID=$!
  PIDS+=("$PORTKEY_PID")
  URL_portkey=http://127.0.0.1:$PORTKEY_PORT/v1/chat/completions
  wait_http "http://127.0.0.1:$PORTKEY_PORT/"
  say "portkey on 127.0.0.1:$PORTKEY_PORT (pid $PORTKEY_PID)"
fi

# ---- the loads ------------------------------------------------------------------
cat >"$WORK/chat.json" <<'EOF'
{"model":"bench-model","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":16}
EOF
cat >"$WORK/chat-stream.json" <<'EOF'
{"model":"bench-model","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello in one short sentence."}],"max_tokens":16,"stream":true}
EOF
RESULTS=$WORK/results
mkdir -p "$RESULTS"

# cpu_ticks PID: user + system CPU ticks of the whole process (all threads); 0 once gone.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# The process whose CPU each target costs: the proxy, or the simulator itself.
declare -A SERVER_PID=([direct]=$SIM_PID) SERVER_LOG=([direct]=$WORK/sim.log) DIED=()
SERVER_LOG[arbitra]=$WORK/arbitra.log
SERVER_LOG[nginx]=$WORK/nginx/error.log
SERVER_LOG[portkey]=$WORK/portkey.log
[[ -n ${ARBITRA_PID:-} ]] && SERVER_PID[arbitra]=$ARBITRA_PID
[[ -n ${NGINX_PID:-} ]] && SERVER_PID[nginx]=$(pgrep -P "$NGINX_PID" | head -1)
[[ -n ${PORTKEY_PID:-} ]] && SERVER_PID[portkey]=$PORTKEY_PID

# load TARGET MODE [ROUND]: one run; writes $RESULTS/TARGET.MODE[.rROUND].json and .cpu.json
load() {
  local target=$1 mode=$2 url_var="URL_$1" args=() name="$1.$2"
  [[ -n ${3:-} ]] && name="$1.$2.r$3"
  case $mode in
    fixed) args=(--rate "$RATE" --connections "$FIXED_CONNECTIONS" --body-file "$WORK/chat.json") ;;
    fixed-stream) args=(--rate "$RATE" --connections "$FIXED_CONNECTIONS" --body-file "$WORK/chat-stream.json" --stream) ;;
    max) args=(--rate 0 --connections "$MAX_CONNECTIONS" --body-file "$WORK/chat.json") ;;
    max-stream) args=(--rate 0 --connections "$MAX_CONNECTIONS" --body-file "$WORK/chat-stream.json" --stream) ;;
  esac
  [[ $target == portkey ]] && args+=("${PORTKEY_HEADERS[@]}")
  if [[ -n ${DIED[$target]:-} ]]; then
    echo "{\"died\":true}" >"$RESULTS/$name.json"
    return
  fi
  say "$target $mode${3:+ (round $3 of $ROUNDS)}"
  local server=${SERVER_PID[$target]} sim_before server_before
  sim_before=$(cpu_ticks "$SIM_PID")
  server_before=$(cpu_ticks "$server")
  "${LOAD_PIN[@]}" "$LOADGEN" --url "${!url_var}" --duration "$DURATION" --warmup "$WARMUP" \
    --header "authorization: Bearer x" "${args[@]}" >"$RESULTS/$name.json"
  echo "{\"server_ticks\":$(($(cpu_ticks "$server") - server_before)),\"sim_ticks\":$(($(cpu_ticks "$SIM_PID") - sim_before)),\"hz\":$(getconf CLK_TCK)}" \
    >"$RESULTS/$name.cpu.json"
  # A target that died is reported as such, with its last log lines; the rest goes on.
  if ! kill -0 "$server" 2>/dev/null; then
    DIED[$target]=1
    say "$target died during '$mode'; its log ends with:"
    tail -n 20 "${SERVER_LOG[$target]}" >&2 || true
    echo "{\"died\":true}" >"$RESULTS/$name.json"
  fi
}

# Prime each target: 2 s closed loop, discarded (JIT, pools, caches).
for target in direct nginx arbitra portkey; do
  has_target "$target" || continue
  url_var="URL_$target"
  extra=()
  [[ $target == portkey ]] && extra=("${PORTKEY_HEADERS[@]}")
  "${LOAD_PIN[@]}" "$LOADGEN" --url "${!url_var}" --duration 2 --warmup 0 --connections "$MAX_CONNECTIONS" \
    --header "authorization: Bearer x" --body-file "$WORK/chat.json" "${extra[@]}" >/dev/null
done
# Mode by mode, the targets back to back, so that drift in the machine's state
# touches the runs being compared alike.
ORDER=(direct nginx arbitra portkey)
for mode in ${BENCH_MODES:-fixed fixed-stream max max-stream}; do
  for ((round = 1; round <= ROUNDS; round++)); do
    for ((i = 0; i < ${#ORDER[@]}; i++)); do
      target=${ORDER[$(((i + round - 1) % ${#ORDER[@]}))]}
      has_target "$target" || continue
      # Portkey 1.15.2's streaming fails on this Node (its issues #1389, #1550).
      [[ $target == portkey && $mode == *stream ]] && continue
      if ((ROUNDS == 1)); then load "$target" "$mode"; else load "$target" "$mode" "$round"; fi
    done
  done
done

# ---- memory: HOLD idle keep-alive connections ------------------------------------
# hold NAME PID URL: holds the connections (each one GET of URL, answered by the
# proxy itself), then reads PID's VmRSS and VmHWM (kB).
hold() {
  local name=$1 pid=$2 url=$3
  say "$name: holding $HOLD open connections"
  "${LOAD_PIN[@]}" "$LOADGEN" --url "$url" --hold "$HOLD" --duration 3 \
    >"$WORK/hold.$name.log" 2>&1 &
  local loader=$!
  PIDS+=("$loader")
  local line
  line=$(wait_line "$WORK/hold.$name.log" '\{"held".*\}')
  sleep 0.5
  local rss hwm
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
  wait "$loader" || true
  echo "{\"name\":\"$name\",\"hold\":$line,\"rss_kb\":$rss,\"hwm_kb\":$hwm}" >"$RESULTS/rss.$name.json"
}
if has_target arbitra && [[ -z ${DIED[arbitra]:-} ]]; then
  hold arbitra "$ARBITRA_PID" "http://127.0.0.1:$ARBITRA_PORT/healthz"
  echo "{\"rss_start_kb\":$ARBITRA_RSS_START}" >"$RESULTS/rss-start.arbitra.json"
fi
if has_target nginx && [[ -z ${DIED[nginx]:-} ]]; then
  hold nginx "$(pgrep -P "$NGINX_PID" | head -1)" "http://127.0.0.1:$NGINX_PORT/healthz"
fi
if has_target portkey && [[ -z ${DIED[portkey]:-} ]]; then
  hold portkey "$PORTKEY_PID" "http://127.0.0.1:$PORTKEY_PORT/"
fi

# ---- the table ----------------------------------------------------------------------
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
node "$BENCH/report.mjs" "$RESULTS" \
  "date=$(date -u '+%Y-%m-%d %H:%M UTC')" \
  "machine=$(nproc) cores, $cpu, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)" \
  "pinning=$PINNING" \
  "load=$RATE rps open loop over $FIXED_CONNECTIONS connections (fixed), closed loop over $MAX_CONNECTIONS connections (max); ${WARMUP}s warm-up + ${DURATION}s measured per run; 16 output tokens, zero time to first token" \
  "versions=arbitra $("$BUILD/arbitra" version | awk '{print $2}') (commit $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')), $(nginx -v 2>&1 | sed 's/.*: //'), @portkey-ai/gateway $(node -p "require('$BENCH/node_modules/@portkey-ai/gateway/package.json').version" 2>/dev/null || echo '-') on node $(node --version)" \
  "hold=$HOLD" \
  "rounds=$ROUNDS" \
  "quiet=1/5/15-min load average $LOAD_BEFORE before, $LOAD_AFTER after (the bench itself keeps about 2 busy)$OTHERS" \
  >"$WORK/table.md"
cat "$WORK/table.md"
if [[ -n $OUT_FILE ]]; then cp "$WORK/table.md" "$OUT_FILE"; fi
