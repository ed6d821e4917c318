#!/usr/bin/env bash
# bench/engine.sh: Arbitra's edge engine against llama.cpp's own llama-server,
# built from the same bundle (scripts/llama.sh), on the same generated model,
# with the same threads, driven by the same HTTP client (bench/engine-load.mjs),
# the same prompt in the Llama-3 chat format (Arbitra renders it from the
# GGUF's template; llama-server gets it rendered on its native /completion,
# because its OpenAI endpoints refuse a random model's output in their
# response parser),
# one measurement at a time. A benchmark, not a test: it prints markdown
# tables and asserts nothing.
#
#   1. streams: a ~1B-shaped model (Llama-3.2-1B's shape, random weights,
#      Q4_K_M) at 1, 4 and 8 concurrent streams: aggregate generated tokens/s
#      (and the decode-only rate) and time to first text, in paired rounds:
#      both servers are loaded once and stay up (idle, one waits in epoll, the
#      other on a condition variable); each round measures every stream count
#      on each of them back to back, the order alternating round by round,
#      with fresh prompts per round; the table gives medians and the
#      Arbitra / llama-server ratio of each round (bench/engine-report.mjs)
#   2. speculation at 1 stream, greedy, in paired rounds (BENCH_SPEC_ROUNDS
#      [5]): per row four servers up at once, Arbitra and llama-server each
#      plain and speculative on the same target, measured back to back in
#      rotating order with a fresh prompt per round; speedups are ratios
#      within a round (bench/engine-spec-report.mjs), on the decode rate
#      (tokens after the first over the time after the first text) and on
#      the whole request. Rows (BENCH_SPEC_ROWS):
#      - random: the random F16 target with its Q4_0 copy as the draft (they
#        agree on few tokens: quantization noise flips a random model's
#        argmax; shows what a poor draft costs),
#      - confident: the synthetic "confident" F16 target (same 1B shape and
#        compute; TestModelShape::confident) with its Q4_0 copy, which agrees
#        with it (a draft that agrees with its target),
#      - confident-small: the same target with a 2-layer Q4_0 copy as the
#        draft (same seed: the same embeddings and output rows, which decide
#        a confident model's next token; arbitra-testmodel --layers 2): a
#        small draft that agrees with its deep target, as a small model of
#        the same family drafts for a large one,
#      - ngram: n-gram lookup on an F16 model that repeats itself (tied
#        output), the same kind of target as the draft rows,
#      - ngram-q4: the same model in Q4_K_M, where a batch of n tokens costs
#        nearly n single steps on 2 cores (compute-bound), which caps what
#        any speculation can gain there;
#      accepted/drafted from Arbitra's request log and llama-server's timings.
#      (llama-server at this commit loads a draft given with -md but drafts
#      only with --spec-type draft-simple; its generation_settings then list
#      "speculative.types":"none,draft-simple".)
#
# Knobs: BENCH_THREADS [2], BENCH_TOKENS [64] per stream, BENCH_STREAMS
# ["1 4 8"], BENCH_ROUNDS [1] paired rounds, BENCH_FIRST_ROUND [1] and
# BENCH_RESULTS [FILE: append to it; default a fresh
# $BENCH_MODELS/engine-rounds.jsonl] to split rounds over several lock holds
# (then `node bench/engine-report.mjs FILE` gives the table over all of them),
# BENCH_ALT_EXTRA / BENCH_ALT_BIN: a second Arbitra ("alt") in the same
# rounds, with more YAML and/or another arbitra binary (a change measured
# against the unchanged engine and llama-server alike), BENCH_DRAFT_MAX [8],
# BENCH_MODELS [build/bench-models],
# BUILD_DIR [build], BENCH_SPEC=0 skips part 2, BENCH_STREAMS_PART=0 skips
# part 1, BENCH_SPEC_ROWS ["random confident confident-small ngram ngram-q4"] picks part 2's
# rows, BENCH_SPEC_ROUNDS [5] its rounds, BENCH_SPEC_RESULTS [FILE: append;
# default a fresh $BENCH_MODELS/engine-spec-rounds.jsonl] its results,
# BENCH_ARBITRA_EXTRA [""] more YAML for Arbitra's provider in part 1 (e.g.
# ", huge_pages: false": the weights mmapped as llama.cpp does by default),
# BENCH_LLAMA_HUGEPAGES=1 gives llama-server the same huge pages as Arbitra's
# default (--no-mmap, and glibc's malloc advising MADV_HUGEPAGE on its
# mappings: GLIBC_TUNABLES=glibc.malloc.hugetlb=1).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
build="${BUILD_DIR:-build}"
threads="${BENCH_THREADS:-2}"
tokens="${BENCH_TOKENS:-64}"
streams_list="${BENCH_STREAMS:-1 4 8}"
draft_max="${BENCH_DRAFT_MAX:-8}"
models="${BENCH_MODELS:-$build/bench-models}"
llama="$(bash scripts/llama.sh)"
server="$llama/bin/llama-server"
vocab="$llama/share/vocab/ggml-vocab-llama-bpe.gguf"
mkdir -p "$models"

spec_rows="${BENCH_SPEC_ROWS:-random confident confident-small ngram ngram-q4}"
want_row() { [ "${BENCH_SPEC:-1}" = 1 ] && [[ " $spec_rows " == *" $1 "* ]]; }

# Models: generated once (seeded), reused by later runs.
streams_part="${BENCH_STREAMS_PART:-1}"
if [ "$streams_part" = 1 ] || want_row random; then
  [ -f "$models/1b-f16.gguf" ] || "$build/arbitra-testmodel" --vocab "$vocab" --shape 1b --seed 1 --out "$models/1b-f16.gguf"
fi
if [ "$streams_part" = 1 ] && [ ! -f "$models/1b-q4_k_m.gguf" ]; then
  "$build/arbitra" quantize "$models/1b-f16.gguf" "$models/1b-q4_k_m.gguf" --type q4_k_m 2>/dev/null
fi
if want_row random && [ ! -f "$models/1b-q4_0.gguf" ]; then
  "$build/arbitra" quantize "$models/1b-f16.gguf" "$models/1b-q4_0.gguf" --type q4_0 2>/dev/null
fi
if want_row confident && [ ! -f "$models/1b-confident-q4_0.gguf" ]; then
  [ -f "$models/1b-confident-f16.gguf" ] ||
    "$build/arbitra-testmodel" --vocab "$vocab" --shape 1b --seed 3 --confident 1 --out "$models/1b-confident-f16.gguf"
  "$build/arbitra" quantize "$models/1b-confident-f16.gguf" "$models/1b-confident-q4_0.gguf" --type q4_0 2>/dev/null
fi
if want_row confident-small && [ ! -f "$models/1b-confident-2l-q4_0.gguf" ]; then
  [ -f "$models/1b-confident-f16.gguf" ] ||
    "$build/arbitra-testmodel" --vocab "$vocab" --shape 1b --seed 3 --confident 1 --out "$models/1b-confident-f16.gguf"
  "$build/arbitra-testmodel" --vocab "$vocab" --shape 1b --seed 3 --confident 1 --layers 2 --out "$models/1b-confident-2l-f16.gguf"
  "$build/arbitra" quantize "$models/1b-confident-2l-f16.gguf" "$models/1b-confident-2l-q4_0.gguf" --type q4_0 2>/dev/null
  rm -f "$models/1b-confident-2l-f16.gguf"
fi
if { want_row ngram || want_row ngram-q4; } && [ ! -f "$models/1b-tied-f16.gguf" ]; then
  "$build/arbitra-testmodel" --vocab "$vocab" --shape 1b --seed 2 --tied 1 --out "$models/1b-tied-f16.gguf"
fi
if want_row ngram-q4 && [ ! -f "$models/1b-tied-q4_k_m.gguf" ]; then
  "$build/arbitra" quantize "$models/1b-tied-f16.gguf" "$models/1b-tied-q4_k_m.gguf" --type q4_k_m 2>/dev/null
fi

port=18431
pid=""
declare -A port_of pid_of mode_of  # the streams part's servers, all up at once
stop() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; fi
  for name in "${!pid_of[@]}"; do kill "${pid_of[$name]}" 2>/dev/null || true; wait "${pid_of[$name]}" 2>/dev/null || true; unset "pid_of[$name]"; done
}
trap stop EXIT
wait_ready() {
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "server did not start" >&2; exit 1
}
# start_arbitra MODEL PARALLEL [EXTRA-YAML]
start_arbitra() {
  local cfg="$models/${4:-arbitra}-bench.yaml"
  cat >"$cfg" <<YAML
server: { host: 127.0.0.1, port: $port, threads: 1 }
providers:
  edge: { kind: local, model: $(realpath "$1"), context: 1024, parallel: $2, threads: $threads ${3:-} }
models:
  bench: { provider: edge, model: bench }
YAML
  # log_requests=1: keep the request log lines (speculation's accepted/drafted)
  "${arbitra_bin:-$build/arbitra}" serve --config "$cfg" $([ -n "${log_requests:-}" ] || echo --quiet) >"$models/${4:-arbitra}.log" 2>&1 &
  pid=$!
  mode=chat
  wait_ready
}
# start_llama MODEL PARALLEL [EXTRA ARGS...]
start_llama() {
  local model="$1" parallel="$2"; shift 2
  local env=() mem=()
  if [ "${BENCH_LLAMA_HUGEPAGES:-0}" = 1 ]; then env=(GLIBC_TUNABLES=glibc.malloc.hugetlb=1); mem=(--no-mmap); fi
  env "${env[@]}" "$server" -m "$model" -t "$threads" -tb "$threads" -c $((1024 * parallel)) -np "$parallel" --no-kv-unified \
    "${mem[@]}" --no-webui --host 127.0.0.1 --port "$port" "$@" >"$models/llama-server-$port.log" 2>&1 &
  pid=$!
  mode=completion
  wait_ready
}
mode=chat
load() {  # load STREAMS -> JSON line (one warm-up request first)
  node bench/engine-load.mjs "http://127.0.0.1:$port" 1 4 1 "$mode" >/dev/null
  node bench/engine-load.mjs "http://127.0.0.1:$port" "$1" "$tokens" 1 "$mode"
}
field() { node -e "const r=JSON.parse(process.argv[1]); console.log(r[process.argv[2]].toFixed(2))" "$1" "$2"; }
ratio() { node -e "console.log((Number(process.argv[1])/Number(process.argv[2])).toFixed(2))" "$1" "$2"; }

echo "## Engine vs llama-server ($(date -u +%Y-%m-%d), $(nproc) cores, $threads threads, $tokens tokens per stream, load $(cut -d' ' -f1-3 /proc/loadavg))"
echo
if [ "$streams_part" = 1 ]; then
# Paired rounds: every server is loaded once and stays up; each round runs
# every stream count on each server back to back, the servers' order rotating
# round by round (Arbitra first in odd rounds, llama-server first in even
# ones), so drift in the machine's load touches both sides of a ratio alike.
# One JSON line per measurement goes to $results; bench/engine-report.mjs
# turns the file(s) into the table (medians and per-round ratios).
max_streams=$(echo $streams_list | tr ' ' '\n' | sort -n | tail -1)
results="${BENCH_RESULTS:-$models/engine-rounds.jsonl}"
[ -n "${BENCH_RESULTS:-}" ] || : >"$results"
servers=(arbitra llama)
start_arbitra "$models/1b-q4_k_m.gguf" "$max_streams" "${BENCH_ARBITRA_EXTRA:-}"; port_of[arbitra]=$port; pid_of[arbitra]=$pid; mode_of[arbitra]=chat
port=$((port + 1)); start_llama "$models/1b-q4_k_m.gguf" "$max_streams"; port_of[llama]=$port; pid_of[llama]=$pid; mode_of[llama]=completion
if [ -n "${BENCH_ALT_EXTRA:-}${BENCH_ALT_BIN:-}" ]; then
  port=$((port + 1))
  arbitra_bin="${BENCH_ALT_BIN:-}" start_arbitra "$models/1b-q4_k_m.gguf" "$max_streams" "${BENCH_ALT_EXTRA:-}" alt
  port_of[alt]=$port; pid_of[alt]=$pid; mode_of[alt]=chat; servers+=(alt)
fi
pid=""
first_round="${BENCH_FIRST_ROUND:-1}"
for ((round = first_round; round < first_round + ${BENCH_ROUNDS:-1}; round++)); do
  for s in $streams_list; do
    n=${#servers[@]}
    for ((i = 0; i < n; i++)); do
      name=${servers[$(((i + round - 1) % n))]}
      url="http://127.0.0.1:${port_of[$name]}"
      node bench/engine-load.mjs "$url" 1 4 1 "${mode_of[$name]}" $((500 + round)) >/dev/null  # warm-up, its own prompt
      r="$(node bench/engine-load.mjs "$url" "$s" "$tokens" 1 "${mode_of[$name]}" "$round")"
      echo "{\"round\":$round,\"server\":\"$name\",\"at\":\"$(date -u +%H:%M:%S)\",\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"result\":$r}" >>"$results"
    done
  done
  echo "round $round done $(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
done
stop
port=18431
echo "Model: $(basename "$models/1b-q4_k_m.gguf") (Llama-3.2-1B shape, random weights, Q4_K_M); Arbitra extra: \`${BENCH_ARBITRA_EXTRA:-none}\`${BENCH_ALT_EXTRA:+; alt (second Arbitra): \`$BENCH_ALT_EXTRA\`}${BENCH_ALT_BIN:+; alt binary $BENCH_ALT_BIN}"
echo
node bench/engine-report.mjs "$results"
fi

[ "${BENCH_SPEC:-1}" = 1 ] || exit 0
echo
echo "## Speculative decoding, 1 stream, greedy"
echo
# Paired rounds per row: four servers up at once (Arbitra plain and
# speculative, llama-server plain and speculative, same target), each round
# measuring all four back to back in rotating order with a fresh prompt, so
# a speedup is a ratio within one round, not across runs minutes apart.
spec_results="${BENCH_SPEC_RESULTS:-$models/engine-spec-rounds.jsonl}"
[ -n "${BENCH_SPEC_RESULTS:-}" ] || : >"$spec_results"
spec_row() {  # spec_row ROW TARGET LABEL ARBITRA-YAML LLAMA-ARGS...
  local row="$1" target="$2" label="$3" yaml="$4"; shift 4
  local base=18441
  port=$base; start_arbitra "$target" 1 "" spec-plain; pid_of[aplain]=$pid; port_of[aplain]=$port
  port=$((base + 1)); log_requests=1 start_arbitra "$target" 1 ", $yaml" spec-arbitra; pid_of[aspec]=$pid; port_of[aspec]=$port
  port=$((base + 2)); start_llama "$target" 1; pid_of[lplain]=$pid; port_of[lplain]=$port
  port=$((base + 3)); start_llama "$target" 1 "$@"; pid_of[lspec]=$pid; port_of[lspec]=$port
  pid=""
  local names=(aplain aspec lplain lspec) round i name mode_here r
  for ((round = 1; round <= ${BENCH_SPEC_ROUNDS:-5}; round++)); do
    for ((i = 0; i < 4; i++)); do
      name=${names[$(((i + round - 1) % 4))]}
      mode_here=chat; [[ $name == l* ]] && mode_here=completion
      node bench/engine-load.mjs "http://127.0.0.1:${port_of[$name]}" 1 4 1 "$mode_here" $((700 + round)) >/dev/null
      r="$(node bench/engine-load.mjs "http://127.0.0.1:${port_of[$name]}" 1 "$tokens" 1 "$mode_here" $((600 + round)))"
      echo "{\"row\":\"$row\",\"target\":\"$(basename "$target")\",\"label\":\"$label\",\"round\":$round,\"server\":\"$name\",\"at\":\"$(date -u +%H:%M:%S)\",\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"result\":$r}" >>"$spec_results"
    done
    echo "$row: round $round done $(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  done
  # Arbitra's accepted/drafted: its request log, measured requests only (out=$tokens, not the warm-ups).
  awk -v row="$row" -v t="$tokens" '$0 ~ (" out=" t " ") {for(i=1;i<=NF;i++){if($i~/^drafted=/){split($i,a,"=");d+=a[2]} if($i~/^accepted=/){split($i,b,"=");c+=b[2]}}}
    END{printf "{\"row\":\"%s\",\"server\":\"aspec\",\"drafted\":%d,\"accepted\":%d}\n", row, d, c}' "$models/spec-arbitra.log" >>"$spec_results"
  stop
  port=18431
}
! want_row random || spec_row random "$models/1b-f16.gguf" "draft: its Q4_0 copy" "draft: $(realpath "$models/1b-q4_0.gguf"), draft_tokens: $draft_max" \
  -md "$models/1b-q4_0.gguf" --spec-type draft-simple --spec-draft-n-max "$draft_max" -td "$threads"
! want_row confident || spec_row confident "$models/1b-confident-f16.gguf" "draft: its Q4_0 copy" \
  "draft: $(realpath "$models/1b-confident-q4_0.gguf"), draft_tokens: $draft_max" \
  -md "$models/1b-confident-q4_0.gguf" --spec-type draft-simple --spec-draft-n-max "$draft_max" -td "$threads"
! want_row confident-small || spec_row confident-small "$models/1b-confident-f16.gguf" "draft: a 2-layer Q4_0 copy" \
  "draft: $(realpath "$models/1b-confident-2l-q4_0.gguf"), draft_tokens: $draft_max" \
  -md "$models/1b-confident-2l-q4_0.gguf" --spec-type draft-simple --spec-draft-n-max "$draft_max" -td "$threads"
# llama-server's ngram-simple with a 1-token lookup n-gram: at its default
# (12, drafts of 48) and at 4 or 2 it drafted nothing in these 64-token
# answers (2026-12-07), so no comparison at all.
ngram_llama=(--spec-type ngram-simple --spec-ngram-simple-size-n 1 --spec-ngram-simple-size-m "$draft_max")
! want_row ngram || spec_row ngram "$models/1b-tied-f16.gguf" "n-gram lookup" "speculation: ngram, draft_tokens: $draft_max" \
  "${ngram_llama[@]}"
! want_row ngram-q4 || spec_row ngram-q4 "$models/1b-tied-q4_k_m.gguf" "n-gram lookup" "speculation: ngram, draft_tokens: $draft_max" \
  "${ngram_llama[@]}"
node bench/engine-spec-report.mjs "$spec_results"
