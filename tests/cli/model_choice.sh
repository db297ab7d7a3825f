#!/usr/bin/env bash
# Which model describe and describe_server use (examples/cli.h: find_data_file, resolve_model):
#   --model shapes             the shapes model, by name: the committed sample's caption (weights/sample_shapes.txt)
#   a flickr8k.nnck found      the default, said so by --help, and used: a file that is no model there fails naming
#                              it, with how to repair the photo model (run scripts/flickr8k.sh again, or --model shapes)
#   no flickr8k.nnck           --model flickr8k is a usage error naming where it was looked for
#   Xception weights missing   a photo model whose weights are nowhere fails naming the hash, the file name and the
#                              folders searched, plus the repair
# Models are put before the programs with LIBNN_DATA_PATH. flickr8k_lost_weights.nnck is a caption bundle labelled
# "xception sha256=000…0 filter=nearest", features.weights "xception_notop.nnck" (weights no one has), made with
# captioning::save_bundle(path, CaptionModel({.vocab = Tokenizer::fit({"a dog runs on the grass"}).vocab_size(),
# .feature_dim = 64, .units = 8, .seed = 1}), tokenizer, nullptr, {{"features.extractor", …}, {"features.weights", …}}).
# Run by check_programs.sh (ctest "cli_conventions"), or alone:
#   tests/cli/model_choice.sh BUILD_DIR          prints "model choice: N checks, F failures"
set -uo pipefail
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
sample=$source_dir/weights/sample_shapes.jpg
T=$(mktemp -d /tmp/nn_model_choice.XXXXXX)
trap 'rm -rf "$T"' EXIT
checks=0 failures=0
fail() { echo "FAIL model choice: $1"; failures=$((failures + 1)); }
# expect WHAT STATUS TEXT -- COMMAND…: the exit status and TEXT in its stdout or stderr (lines joined, runs of
# spaces made one: --help wraps long texts).
expect() {
  local what=$1 want=$2 text=$3
  shift 4
  checks=$((checks + 1))
  "$@" > "$T/out" 2> "$T/err" < /dev/null
  local status=$?
  [ "$status" = "$want" ] || { fail "$what: exit status $status, not $want ($(head -c 300 "$T/err"))"; return; }
  cat "$T/out" "$T/err" | tr -s '\n ' '  ' > "$T/joined"
  grep -qF -- "$text" "$T/joined" || fail "$what: no '$text' in its output: $(head -c 400 "$T/out" "$T/err")"
}
describe=$build/examples/describe
server=$build/examples/describe_server
mkdir -p "$T/empty" "$T/photo" "$T/broken" "$T/lost"

# The shapes model by name; the sample shows a yellow triangle, a white square and a red circle.
for model in shapes "$source_dir/weights/shapes.nnck"; do
  expect "--model $model" 0 "yellow triangle" -- env LIBNN_DATA_PATH="$T/empty" "$describe" --model "$model" "$sample"
  grep -q "white square" "$T/out" && grep -q "red circle" "$T/out" || fail "--model $model: caption $(cat "$T/out")"
done

# No flickr8k.nnck in the data path: asking for it by name names where it was looked for. (The installed or source
# tree's flickr8k.nnck, after scripts/flickr8k.sh, would be found: that part is then skipped, saying so.)
if [ -e "$source_dir/weights/flickr8k.nnck" ]; then
  echo "model choice: weights/flickr8k.nnck is installed: the no-photo-model checks are skipped"
else
  expect "no flickr8k: --help" 0 "so now the shapes model, " -- env LIBNN_DATA_PATH="$T/empty" "$describe" --help
  expect "no flickr8k: --model flickr8k" 2 "no flickr8k.nnck at $T/empty/flickr8k.nnck, " -- \
    env LIBNN_DATA_PATH="$T/empty" "$describe" --model flickr8k "$sample"
  expect "no flickr8k: default" 0 "yellow triangle" -- env LIBNN_DATA_PATH="$T/empty" "$describe" "$sample"
fi

# A flickr8k.nnck in the data path is the default (here a copy of the shapes model, so its caption is known).
cp "$source_dir/weights/shapes.nnck" "$T/photo/flickr8k.nnck"
for program in "$describe" "$server"; do
  expect "$(basename "$program") --help with flickr8k" 0 "the default is the photo model, $T/photo/flickr8k.nnck" -- \
    env LIBNN_DATA_PATH="$T/photo" "$program" --help
  grep -qF "(default: flickr8k)" "$T/out" || fail "$(basename "$program") --help: no '(default: flickr8k)'"
done
expect "the default flickr8k.nnck is used" 0 "yellow triangle" -- env LIBNN_DATA_PATH="$T/photo" "$describe" "$sample"
echo "not a checkpoint" > "$T/broken/flickr8k.nnck"
for program in "$describe" "$server"; do
  argument=$sample
  [ "$program" = "$server" ] && argument=--port=0
  expect "$(basename "$program"): a broken default flickr8k.nnck" 1 \
    "$(basename "$program"): $T/broken/flickr8k.nnck: " -- env LIBNN_DATA_PATH="$T/broken" "$program" "$argument"
  grep -qF "; run scripts/flickr8k.sh again to reinstall the photo model and the Xception weights it needs beside it (xception_notop.nnck), or pass --model shapes" "$T/err" ||
    fail "$(basename "$program"): a broken flickr8k.nnck: no repair hint: $(cat "$T/err")"
done

# A photo model whose Xception weights are nowhere: the hash, the file it was trained with, every folder searched.
cp "$here/flickr8k_lost_weights.nnck" "$T/lost/flickr8k.nnck"
expect "photo model without its Xception" 1 \
  "describe: $T/lost/flickr8k.nnck: needs the Xception weights it was trained with (sha256 000000000000…, file xception_notop.nnck); none of the *.nnck files in $T/lost, " -- \
  env LIBNN_DATA_PATH="$T/lost" LIBNN_WEIGHTS_PATH="$T/empty" "$describe" "$sample"
grep -qF "$T/empty holds them; run scripts/flickr8k.sh again" "$T/err" ||
  fail "photo model without its Xception: \$LIBNN_WEIGHTS_PATH not searched last, or no repair hint: $(cat "$T/err")"

echo "model choice: $checks checks, $failures failures"
[ "$failures" -eq 0 ]
