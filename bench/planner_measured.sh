#!/usr/bin/env bash
# bench/planner_measured.sh: the planner's throughput model against `arbitra
# bench` on this machine. Generates three test-model shapes (seeded, cached in
# build/bench-models/), quantizes each to two formats with `arbitra quantize`,
# measures this machine's memory bandwidth and FMA peak (arbitra-cpu-peak),
# runs `arbitra bench --json` on each model RUNS times (fixed threads), then
# prints the planner's prediction for the same hardware/model/format/batch next
# to the median measurement (arbitra-planner-measured): decode tokens/s at 1, 2
# and 4 streams and prefill tokens/s, error %, within ±25% or not. A
# benchmark: it prints a markdown table (the one in README.md, section
# Planner) and exits 1 when a row is off by more than 25%.
#
# Knobs: BENCH_THREADS [2], BENCH_RUNS [3], BENCH_SHAPES ["135m 500m 1b"],
# BENCH_QUANTS ["q8_0 q4_k_m"], BENCH_TOKENS [64], BENCH_PROMPT [256],
# BENCH_PARALLEL [4], BENCH_MODELS [build/bench-models], BENCH_OUT
# [build/bench-planner], BUILD_DIR [build], BENCH_FIT [unset: predict with the
# catalog's CPU row; 1: first fit the row's parameters to this run's files and
# predict with the fit, printing the YAML for data/planner/hardware.yaml (fit on
# one run, then check the shipped row on another without it)]. The JSON files stay in BENCH_OUT;
# `build/arbitra plan W.yaml --measured BENCH_OUT/run1-1b-q4_k_m.json` reads
# any of them directly.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${BUILD_DIR:-build}"
threads="${BENCH_THREADS:-2}"
runs="${BENCH_RUNS:-3}"
shapes="${BENCH_SHAPES:-135m 500m 1b}"
quants="${BENCH_QUANTS:-q8_0 q4_k_m}"
tokens="${BENCH_TOKENS:-64}"
prompt="${BENCH_PROMPT:-256}"
parallel="${BENCH_PARALLEL:-4}"
models="${BENCH_MODELS:-$build/bench-models}"
out="${BENCH_OUT:-$build/bench-planner}"
llama="$(bash scripts/llama.sh)"
vocab="$llama/share/vocab/ggml-vocab-llama-bpe.gguf"
mkdir -p "$models" "$out"
rm -f "$out"/run*.json "$out"/cpu-peak*.json

# Models: generated once (seeded; 1b with seed 1 is bench/engine.sh's model), reused later.
for shape in $shapes; do
  [ -f "$models/$shape-f16.gguf" ] ||
    "$build/arbitra-testmodel" --vocab "$vocab" --shape "$shape" --seed 1 --out "$models/$shape-f16.gguf"
  for q in $quants; do
    [ -f "$models/$shape-$q.gguf" ] ||
      "$build/arbitra" quantize "$models/$shape-f16.gguf" "$models/$shape-$q.gguf" --type "$q" 2>/dev/null
  done
done

echo "load before: $(uptime)" | tee "$out/uptime.txt"
for run in $(seq 1 "$runs"); do
  "$build/arbitra-cpu-peak" --threads "$threads" >"$out/cpu-peak$run.json"
  echo "run $run: $(cat "$out/cpu-peak$run.json")" >&2
  for shape in $shapes; do
    for q in $quants; do
      echo "run $run: $shape $q ($(cut -d' ' -f1-3 /proc/loadavg))" >&2
      "$build/arbitra" bench "$models/$shape-$q.gguf" --threads "$threads" --parallel "$parallel" \
        --tokens "$tokens" --prompt-tokens "$prompt" --json >"$out/run$run-$shape-$q.json"
    done
  done
done
echo "load after:  $(uptime)" | tee -a "$out/uptime.txt"
echo
fit=()
[ -n "${BENCH_FIT:-}" ] && fit=(--fit)
"$build/arbitra-planner-measured" --catalog data/planner "${fit[@]}" --peak "$out"/cpu-peak*.json -- "$out"/run*.json
