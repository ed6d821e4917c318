#!/usr/bin/env bash
# bench/planner_measured.sh: the planner's throughput model against `arbitra
# bench` on this machine. Generates three test-model shapes (seeded, cached in
# build/bench-models/), quantizes each with `arbitra quantize`, then runs
# `arbitra bench --json` on every model/format RUNS times, interleaved: each
# run visits every model once (in an order rotated run by run), and just
# before each bench takes a probe of the machine (arbitra-cpu-probe: ggml's
# kernel rates per tensor type on synthetic weights), so the machine's drift
# between and within runs (this KVM guest moves up to 1.5x between quiet
# runs) reaches every row alike and is measured next to each figure. Then it
# prints the planner's prediction next to the measured figures
# (arbitra-planner-measured): each run's, their median, the spread, error %
# against the median, within ±25% or not. A benchmark: it prints a markdown
# table (the one in README.md, section Planner) and exits 1 when a row's
# median is off by more than 25%.
#
# Steps (BENCH_STEP): prepare (generate and quantize: a build step, run it
# under the shared CPU lock), measure (the runs: under the exclusive lock),
# report (the table), all [default]. Runs BENCH_FIRST_RUN..+BENCH_RUNS-1
# (file names runN-*, probeN-*): split a long measurement into several short
# exclusive holds by calling measure with BENCH_FIRST_RUN=1, 3, 5, ...; only
# BENCH_FIRST_RUN=1 clears BENCH_OUT first.
#
# Knobs: BENCH_THREADS [2], BENCH_RUNS [3], BENCH_FIRST_RUN [1], BENCH_SHAPES
# ["135m 500m 1b"], BENCH_QUANTS ["q8_0 q4_k_m"] (f16: the generated file),
# BENCH_TOKENS [64], BENCH_PROMPT [256], BENCH_PARALLEL [4], BENCH_MODELS
# [build/bench-models], BENCH_OUT [build/bench-planner], BUILD_DIR [build],
# BENCH_FIT [unset: predict with the catalog's CPU row over all runs; holdout:
# fit the row's parameters to the odd runs and check them on the even runs;
# 1: fit to all runs and check on the same], BENCH_SPEC [concurrent: each
# bench predicted with the probe taken next to it; run: with the median of
# its run's probes; row: with the row's kernel rates]. The JSON files stay in BENCH_OUT; `build/arbitra plan W.yaml
# --measured BENCH_OUT/run1-1b-q4_k_m.json` reads any of them directly.
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
first="${BENCH_FIRST_RUN:-1}"
step="${BENCH_STEP:-all}"

if [ "$step" = all ] || [ "$step" = prepare ]; then
  # Models: generated once (seeded; 1b with seed 1 is bench/engine.sh's model), reused later.
  for shape in $shapes; do
    [ -f "$models/$shape-f16.gguf" ] ||
      "$build/arbitra-testmodel" --vocab "$vocab" --shape "$shape" --seed 1 --out "$models/$shape-f16.gguf"
    for q in $quants; do
      [ -f "$models/$shape-$q.gguf" ] ||
        "$build/arbitra" quantize "$models/$shape-f16.gguf" "$models/$shape-$q.gguf" --type "$q" 2>/dev/null
      # The bytes per tensor type (models.yaml tensor_bytes).
      "$build/arbitra-cpu-probe" --tensors "$models/$shape-$q.gguf" >"$models/$shape-$q.tensors.json"
    done
  done
fi

if [ "$step" = all ] || [ "$step" = measure ]; then
  [ "$first" = 1 ] && rm -f "$out"/run*.json "$out"/probe*.json "$out"/cpu-peak*.json "$out"/uptime.txt
  combos=()
  for shape in $shapes; do for q in $quants; do combos+=("$shape-$q"); done; done
  echo "runs $first..$((first + runs - 1)) start: $(date -u +%FT%TZ) $(uptime)" | tee -a "$out/uptime.txt"
  for run in $(seq "$first" $((first + runs - 1))); do
    "$build/arbitra-cpu-peak" --threads "$threads" >"$out/cpu-peak$run.json"
    echo "run $run: $(cat "$out/cpu-peak$run.json")" >&2
    n=${#combos[@]}
    for i in $(seq 0 $((n - 1))); do
      combo="${combos[$(((i + run - 1) % n))]}"  # rotated: each run starts one model later
      echo "run $run: $combo ($(cut -d' ' -f1-3 /proc/loadavg))" >&2
      "$build/arbitra-cpu-probe" --threads "$threads" >"$out/probe$run-$combo.json"
      "$build/arbitra" bench "$models/$combo.gguf" --threads "$threads" --parallel "$parallel" \
        --tokens "$tokens" --prompt-tokens "$prompt" --json >"$out/run$run-$combo.json"
    done
  done
  echo "runs $first..$((first + runs - 1)) end:   $(date -u +%FT%TZ) $(uptime)" | tee -a "$out/uptime.txt"
fi
[ "$step" = all ] || [ "$step" = report ] || exit 0
echo
fit=()
case "${BENCH_FIT:-}" in
  holdout) fit=(--fit-runs odd --check-runs even) ;;
  "") ;;
  *) fit=(--fit) ;;
esac
spec=()
[ -n "${BENCH_SPEC:-}" ] && spec=(--spec "$BENCH_SPEC")
"$build/arbitra-planner-measured" --catalog data/planner "${fit[@]}" "${spec[@]}" --peak "$out"/cpu-peak*.json -- "$out"/run*.json
