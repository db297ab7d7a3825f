#!/usr/bin/env bash
# Configures and builds libnn (Release) in build/, after installing missing packages: everything (library,
# programs, benchmarks and the test suite). Extra arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --tests
# The test programs' own code at -O1 (the library keeps -O3): 20 % less time for the big test files, whose run time
# is the library's.
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DNN_BUILD_TESTS=ON -DNN_BUILD_EXAMPLES=ON -DNN_TEST_COMPILE_OPTIONS=-O1 \
  "$@" >&2
cmake --build build -j"$(nproc)" >&2
