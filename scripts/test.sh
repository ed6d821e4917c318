#!/usr/bin/env bash
# Quick start, part two: set up, build, and run the whole test suite:
#   1. unit tests (GoogleTest via ctest)
#   2. integration + compatibility tests: the real binaries on loopback, driven
#      by raw HTTP and the official openai and @anthropic-ai/sdk clients
#   3. the unit and integration suites again, built with ASan + UBSan
#   4. each libFuzzer target for a bounded time (FUZZ_SECONDS, default 30)
# Ends with one line "N passed, M failed"; exits non-zero on any failure.
#   SKIP_SANITIZE=1 / SKIP_FUZZ=1 leave out 3 / 4 (for quick local loops only).
set -uo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/arbitra-ccache}"
# Paths relative to the checkout, so that a fresh clone elsewhere (CI) reuses
# what an earlier build compiled.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(pwd)}" CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
jobs="$(nproc)"
passed=0
failed=0
failures=()

step() {  # step NAME COMMAND... : runs one stage, records its outcome
  local name="$1"; shift
  echo "==> $name"
  if "$@"; then passed=$((passed + 1)); echo "<== $name: ok"
  else failed=$((failed + 1)); failures+=("$name"); echo "<== $name: FAILED"; fi
}

bash scripts/setup.sh --test || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }
( cd tests/integration && npm ci --no-audit --no-fund --loglevel=error >/dev/null ) ||
  { echo "npm ci failed"; echo "0 passed, 1 failed"; exit 1; }

integration() {  # integration BIN_DIR
  ( cd tests/integration &&
    ARBITRA_BIN="$1/arbitra" ARBITRA_SIM_BIN="$1/arbitra-sim" \
      node --test --test-concurrency=1 ./*.test.mjs )
}

# The ledger's Postgres store is tested against a real server on loopback.
if ARBITRA_TEST_POSTGRES="$(bash scripts/postgres.sh)"; then export ARBITRA_TEST_POSTGRES
else failed=$((failed + 1)); failures+=("postgres start"); fi

step "unit tests" ctest --test-dir build --output-on-failure -j "$jobs"
step "integration tests" integration "$root/build"

if [ "${SKIP_SANITIZE:-0}" != 1 ]; then
  sanitize_build() {
    [ -f build-asan/build.ninja ] ||
      cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DARBITRA_SANITIZE=ON >/dev/null
    ninja -C build-asan -j "$jobs"
  }
  if step "sanitizer build" sanitize_build; then
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    step "unit tests (asan+ubsan)" ctest --test-dir build-asan --output-on-failure -j "$jobs"
    step "integration tests (asan+ubsan)" integration "$root/build-asan"
  fi
fi

if [ "${SKIP_FUZZ:-0}" != 1 ]; then
  fuzz_build() {
    [ -f build-fuzz/build.ninja ] ||
      cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ \
        -DARBITRA_FUZZ=ON -DARBITRA_SANITIZE=ON -DARBITRA_TESTS=OFF >/dev/null
    ninja -C build-fuzz -j "$jobs" fuzz_openai_request fuzz_anthropic_request fuzz_sse fuzz_config
  }
  if step "fuzz build" fuzz_build; then
    for target in fuzz_openai_request fuzz_anthropic_request fuzz_sse fuzz_config; do
      corpus="fuzz/corpus/${target#fuzz_}"
      work="build-fuzz/corpus-${target#fuzz_}"
      mkdir -p "$work"
      step "fuzz ${target#fuzz_} (${FUZZ_SECONDS:-30}s)" \
        ./build-fuzz/"$target" -max_total_time="${FUZZ_SECONDS:-30}" -print_final_stats=1 \
          -artifact_prefix=build-fuzz/ "$work" $( [ -d "$corpus" ] && echo "$corpus" )
    done
  fi
fi

echo
if [ "$failed" -gt 0 ]; then echo "failed stages: ${failures[*]}"; fi
echo "stages: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
