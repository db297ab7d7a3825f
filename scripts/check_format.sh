#!/usr/bin/env bash
# Fails when a C++ file of the repository differs from what clang-format (the committed .clang-format) makes of it.
#   scripts/check_format.sh          check (CI runs this)
#   scripts/check_format.sh --fix    reformat the files in place
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || scripts/deps.sh --tests
mapfile -t files < <(git ls-files '*.cpp' '*.h')
if [ "${1:-}" = "--fix" ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
if ! clang-format --dry-run --Werror "${files[@]}" 2> /tmp/nn_format.log; then
  grep -E "^[^ ].*: error:" /tmp/nn_format.log | cut -d: -f1 | sort -u | sed 's/^/not formatted: /' >&2
  echo "format check: run scripts/check_format.sh --fix (clang-format $(clang-format --version | grep -o '[0-9][0-9.]*' | head -1))" >&2
  exit 1
fi
echo "format check: ${#files[@]} files formatted"
