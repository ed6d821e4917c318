#!/usr/bin/env bash
# Installs what Arbitra needs to build, test and benchmark on Debian 12, then
# configures and builds it into build/. Idempotent: a second run installs
# nothing and rebuilds only what changed (ccache keeps compiles across clones).
# Configuring runs scripts/llama.sh, which builds llama.cpp (the edge engine's
# dependency) once into ~/.cache/arbitra-llama (cold ~5-6 min on 2 cores).
#
#   bash scripts/setup.sh            # toolchain + libraries + build/arbitra
#   bash scripts/setup.sh --test     # also what the tests need (node clients)
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
for arg in "$@"; do
  case "$arg" in
    --test) want_tests=1 ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

packages=(build-essential cmake ninja-build ccache pkg-config git
          libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
          libssl-dev libyaml-cpp-dev libsqlite3-dev libpq-dev libhnswlib-dev ca-certificates
          libsimdjson-dev  # the streamed hot path's JSON reader (src/api/fast_json.h)
          libgoogle-perftools-dev  # tcmalloc_minimal: the gateway's allocator (see CMakeLists.txt)
          librsvg2-bin)  # rsvg-convert: `arbitra plan --png` renders its SVG charts to PNG
# Node.js may come from Debian or from elsewhere (its own npm inside): ask
# for the commands, not for Debian's package names. npm is needed by every
# build: scripts/llama.sh fetches llama.cpp's source with `npm pack`.
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
if [ "$want_tests" = 1 ]; then
  packages+=(googletest libgtest-dev clang libclang-rt-14-dev openssl postgresql postgresql-client sqlite3)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/arbitra-ccache}"
# Paths relative to the checkout, so that a fresh clone elsewhere (CI) reuses
# what an earlier build compiled.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(pwd)}" CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
jobs="$(nproc)"
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DARBITRA_TESTS="$([ "$want_tests" = 1 ] && echo ON || echo OFF)" >/dev/null
elif [ "$want_tests" = 1 ]; then
  cmake -S . -B build -DARBITRA_TESTS=ON >/dev/null
fi
ninja -C build -j "$jobs"
