#!/usr/bin/env bash
# Configures and builds libnn (Release) in build/, after installing missing packages. Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DNN_BUILD_TESTS=ON -DNN_BUILD_EXAMPLES=ON "$@" >&2
cmake --build build -j"$(nproc)" >&2
