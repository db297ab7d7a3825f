#!/usr/bin/env bash
# The command-line convention every program in examples/ shares (examples/cli.h), checked program by program:
#   -h and --help      exit 0, the same usage text on stdout, starting "usage: PROGRAM", nothing on stderr
#   --version          exit 0, exactly "PROGRAM (libnn) VERSION" on stdout
#   an unknown option  exit 2, "PROGRAM: unknown option '…' (did you mean '--real-option'?)" and the --help hint
#   a missing value    exit 2, "PROGRAM: --option needs a value (PLACEHOLDER)"
# The options tried come from each program's own --help. With describe and describe_server, also how they choose
# their model (tests/cli/model_choice.sh). Run by ctest (test "cli_conventions");
#   tests/cli/check_programs.sh BUILD_DIR VERSION [PROGRAM...]   (VERSION: the project() version CMake passes in)
set -uo pipefail
build=$(cd "$1" && pwd)
version=$2
shift 2
programs=("$@")
[ ${#programs[@]} -gt 0 ] || programs=(bleu_score convert_keras_weights describe describe_server digits say tiny_train
                                        train_flickr8k train_shapes xception_features)
T=$(mktemp -d /tmp/nn_cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
failures=0
fail() { echo "FAIL $1: $2"; failures=$((failures + 1)); }

# run NAME ARGS…: the program's exit status in $status, its output in $T/out and $T/err (never waits on stdin).
run() {
  "$bin" "$@" > "$T/out" 2> "$T/err" < /dev/null
  status=$?
}

for program in "${programs[@]}"; do
  bin=$build/examples/$program
  if [ ! -x "$bin" ]; then fail "$program" "no program at $bin"; continue; fi

  for flag in -h --help; do
    run "$flag"
    [ "$status" = 0 ] || fail "$program" "$flag exits $status, not 0"
    head -1 "$T/out" | grep -q "^usage: $program\( \|$\)" || fail "$program" "$flag: stdout does not start with 'usage: $program'"
    [ -s "$T/err" ] && fail "$program" "$flag writes to stderr: $(head -1 "$T/err")"
    grep -q -- "-h, --help" "$T/out" && grep -q -- "--version" "$T/out" || fail "$program" "$flag does not list -h, --help and --version"
    cp "$T/out" "$T/help$flag"
  done
  cmp -s "$T/help-h" "$T/help--help" || fail "$program" "-h and --help print different texts"

  run --version
  [ "$status" = 0 ] || fail "$program" "--version exits $status, not 0"
  [ "$(cat "$T/out")" = "$program (libnn) $version" ] || fail "$program" "--version prints '$(head -1 "$T/out")', not '$program (libnn) $version'"

  # The program's options as its help lists them: "  --name" or "  --name VALUE" at the start of a line.
  options=$(grep -oE '^  --[a-z0-9-]+( [^ ]+)?' "$T/help--help" | grep -vE '^  --(help|version)$' | sed 's/^  //')
  first=$(printf '%s\n' "$options" | head -1 | cut -d' ' -f1)
  if [ -z "$first" ]; then fail "$program" "its help lists no option of its own"; continue; fi
  typo="--x${first#--}"  # one letter more than a real option
  run "$typo"
  [ "$status" = 2 ] || fail "$program" "unknown option $typo exits $status, not 2"
  grep -qF "$program: unknown option '$typo' (did you mean '$first'?)" "$T/err" ||
    fail "$program" "unknown option $typo: no '$program: unknown option '$typo' (did you mean '$first'?)' on stderr, got: $(head -1 "$T/err")"
  grep -qF "(see $program --help)" "$T/err" || fail "$program" "unknown option $typo: no '(see $program --help)' hint"

  valued=$(printf '%s\n' "$options" | grep ' ' | head -1)
  if [ -n "$valued" ]; then
    name=${valued%% *} placeholder=${valued#* }
    run "$name"
    [ "$status" = 2 ] || fail "$program" "$name without its value exits $status, not 2"
    grep -qF "$program: $name needs a value ($placeholder)" "$T/err" ||
      fail "$program" "$name without its value: no '$program: $name needs a value ($placeholder)', got: $(head -1 "$T/err")"
  fi
done
# How describe and describe_server choose their model (by name, the photo model by default when found).
if printf '%s\n' "${programs[@]}" | grep -qx describe && printf '%s\n' "${programs[@]}" | grep -qx describe_server; then
  "$(dirname "$0")/model_choice.sh" "$build" || fail "describe, describe_server" "tests/cli/model_choice.sh failed"
fi
echo "cli conventions: ${#programs[@]} programs, $failures failures"
[ "$failures" -eq 0 ]
