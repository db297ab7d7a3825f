#!/usr/bin/env bash
# The main command of the README: install what is missing, build the describe program (only what it needs), and
# describe the bundled sample image (or the images given) with the model shipped in weights/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
if [ ! -f build/CMakeCache.txt ]; then
  # A first build for describing only: no tests (which need doctest) and no benchmarks. scripts/test.sh turns the
  # tests on in the same folder later.
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DNN_BUILD_TESTS=OFF -DNN_BUILD_BENCHMARKS=OFF >&2
fi
cmake --build build -j"$(nproc)" --target describe >&2
# The sample is a picture of the shapes world: described by the shapes model even once the photo model is installed.
if [ $# -eq 0 ]; then set -- --model shapes weights/sample_shapes.jpg; fi
build/examples/describe "$@"
