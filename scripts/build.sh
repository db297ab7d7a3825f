#!/usr/bin/env bash
# Configures and builds libnn (Release) in build/, after installing missing packages: everything (library,
# programs, benchmarks and the test suite). Extra arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --tests
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DNN_BUILD_TESTS=ON -DNN_BUILD_EXAMPLES=ON "$@" >&2
cmake --build build -j"$(nproc)" >&2
