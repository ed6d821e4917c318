#!/usr/bin/env bash
# Builds llama.cpp once, from the source that node-llama-cpp@3.21.1 ships as a
# git bundle (llama.cpp is not packaged in Debian 12), into a cache directory
# keyed by commit, build options and compiler, and prints that directory.
#
# Design: `npm pack` fetches the package (the npm registry is the one source
# this machine reaches); the bundle is cloned and its HEAD must be the pinned
# commit, else the script refuses. The build is portable (GGML_NATIVE=OFF,
# AVX2 on: NATIVE=ON crashes in the AMX path on some of these VMs) and
# library-only, plus `llama-server` (the bench baseline, same source). What is
# installed: include/ (llama.h, ggml headers, gguf.h), lib/*.a, bin/llama-server,
# share/vocab/ (the vocab-only GGUF files the test-model generator reads), and
# a `.complete` marker written last, so an interrupted build is redone, never
# half-used. Guarantees: a second call with the same key does nothing and
# prints the same directory; compiles go through ccache.
#
#   dir="$(bash scripts/llama.sh)"        # build if needed, print the prefix
#   ARBITRA_LLAMA_CACHE=/path bash scripts/llama.sh
set -euo pipefail

readonly package="node-llama-cpp@3.21.1"
readonly commit="80fb11ac73e66d89eae2c6a91d8a77428fa733ed"
readonly cache_root="${ARBITRA_LLAMA_CACHE:-$HOME/.cache/arbitra-llama}"
readonly jobs="${ARBITRA_LLAMA_JOBS:-$(nproc)}"

options=(
  -DCMAKE_BUILD_TYPE=Release
  -DBUILD_SHARED_LIBS=OFF
  -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
  -DGGML_OPENMP=ON
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF
  -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_COMMON=ON
  -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF
  -DLLAMA_OPENSSL=OFF -DLLAMA_TOOLS_INSTALL=OFF
)
compiler="$(c++ --version | head -n1)"
key="$(printf '%s\n' "$commit" "${options[*]}" "$compiler" | sha256sum | cut -c1-12)"
prefix="$cache_root/${commit:0:12}-$key"

if [ -f "$prefix/.complete" ]; then
  echo "$prefix"
  exit 0
fi

log() { echo "llama.sh: $*" >&2; }
mkdir -p "$cache_root"
# One build at a time per cache: a second checkout (CI beside a developer's
# build) waits for the first and then finds its result, instead of building
# the same library again on the same cores.
exec 9>"$cache_root/.lock"
if ! flock -n 9; then
  log "another build of llama.cpp is running; waiting for it"
  flock 9
fi
if [ -f "$prefix/.complete" ]; then
  echo "$prefix"
  exit 0
fi
work="$(mktemp -d "$cache_root/work.XXXXXX")"
[ -n "${ARBITRA_LLAMA_KEEP:-}" ] || trap 'rm -rf "$work"' EXIT

log "fetching $package (npm pack)"
( cd "$work" && npm pack "$package" --silent >/dev/null )
tar -xzf "$work"/node-llama-cpp-*.tgz -C "$work" package/llama/gitRelease.bundle
git clone --quiet "$work/package/llama/gitRelease.bundle" "$work/src" 2>/dev/null
head="$(git -C "$work/src" rev-parse HEAD)"
if [ "$head" != "$commit" ]; then
  log "refusing: the bundle's HEAD is $head, expected $commit"
  exit 1
fi

log "building llama.cpp ${commit:0:12} into $prefix (cold: ~5-6 min on 2 cores)"
launcher=()
if command -v ccache >/dev/null; then
  export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/arbitra-ccache}"
  # The build directory is temporary: hash relative paths so a rebuild hits.
  export CCACHE_BASEDIR="$work" CCACHE_NOHASHDIR=true
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$work/src" -B "$work/build" -G Ninja "${options[@]}" "${launcher[@]}" >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log" >&2; exit 1; }
nice -n 10 cmake --build "$work/build" -j "$jobs" --target llama llama-server >"$work/build.log" 2>&1 ||
  { tail -n 60 "$work/build.log" >&2; exit 1; }

stage="$work/stage"
mkdir -p "$stage/include" "$stage/lib" "$stage/bin" "$stage/share/vocab"
cp "$work/src/include/llama.h" "$work/src/include/llama-cpp.h" "$stage/include/"
cp "$work/src/ggml/include/"*.h "$stage/include/"
while IFS= read -r lib; do cp "$lib" "$stage/lib/"; done < <(find "$work/build" \( -name 'libllama.a' -o -name 'libggml*.a' \))
for lib in libllama.a libggml.a libggml-base.a libggml-cpu.a; do
  [ -f "$stage/lib/$lib" ] || { log "the build made no $lib"; ls -R "$work/build" | grep '\.a$' >&2; exit 1; }
done
cp "$work/build/bin/llama-server" "$stage/bin/"
cp "$work/src/models/ggml-vocab-"*.gguf "$stage/share/vocab/"
printf 'commit=%s\noptions=%s\ncompiler=%s\n' "$commit" "${options[*]}" "$compiler" >"$stage/BUILD_INFO"

rm -rf "$prefix"
mv "$stage" "$prefix"
touch "$prefix/.complete"
log "done: $prefix"
echo "$prefix"
