#!/usr/bin/env bash
# The main command of the README: install what is missing, build, and describe the bundled sample image (or the
# images given) with the model shipped in weights/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
if [ $# -eq 0 ]; then set -- weights/sample_shapes.jpg; fi
build/examples/describe "$@"
