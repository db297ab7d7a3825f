#!/usr/bin/env bash
# The main command of the README: build, then train a tiny character-level LSTM and watch its loss fall.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
build/examples/tiny_train "$@"
