#!/usr/bin/env bash
# Planner calibration: reruns the fit of the throughput model's efficiency
# factors and prints predicted vs published tokens/s as a markdown table
# (the table in README.md, section Planner). Exit 1 when a row is off by more
# than 25%. Usage: bench/planner_calibration.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
nice -n 10 ninja -C "$build" arbitra-planner-calibration >/dev/null
"$build/arbitra-planner-calibration" data/planner
