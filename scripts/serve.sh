#!/usr/bin/env bash
# Quick start, part one: set up, build, and run the gateway on its embedded
# defaults (127.0.0.1:8080; providers from the environment, or the built-in
# simulator when none is found). Extra arguments go to `arbitra serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec ./build/arbitra serve "$@"
