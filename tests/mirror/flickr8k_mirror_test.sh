#!/usr/bin/env bash
# scripts/flickr8k.sh end to end against a mirror on loopback (tests/mirror/mirror_server.cpp), at small scale: a
# synthetic shapes world zipped up in the real archives' layout (Flicker8k_Dataset/, misspelt as in the original,
# beside __MACOSX/), the width-1/32 Keras-1 no-top Xception fixture, and checksum lists for them in the shipped format.
# Each check names itself when it fails:
#   (d) a wrong archive (not a zip; a zip without the text files) is refused, named, and moved aside;
#   (a) a download cut mid-way resumes with a Range request from where it was cut, and the result verifies;
#   (b) the script interrupted (SIGINT to its process group, as Ctrl-C sends) during a throttled download stops, says
#       how to continue, leaves no process behind, and the next run continues from the .part (a Range request);
#   (e) the whole run installs flickr8k.nnck, and describe --model prints a caption with it;
#   (c) an unpacked image corrupted afterwards is named and extracted again (no request to the mirror); one whose
#       archive copy is bad too makes the script fetch the archive again; and if the mirror's copy is bad as well,
#       the run fails naming the image;
#   (f) a run with everything done does nothing: no request, "nothing to do", installed files untouched.
#
#   flickr8k_mirror_test.sh --script scripts/flickr8k.sh --server mirror_server --make-data make_synthetic_flickr8k
#                           --train train_flickr8k --convert convert_keras_weights --describe describe --h5 FIXTURE.h5
set -euo pipefail

while [ $# -gt 0 ]; do
  case "$1" in
    --script) script=$2 ;;
    --server) server=$2 ;;
    --make-data) make_data=$2 ;;
    --train) train=$2 ;;
    --convert) convert=$2 ;;
    --describe) describe=$2 ;;
    --h5) h5_fixture=$2 ;;
    *) echo "flickr8k_mirror_test: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
# The script runs BUILD/examples/{train_flickr8k,convert_keras_weights,describe}, as in a user's build/.
build=$(dirname "$(dirname "$train")")
for program in "$train" "$convert" "$describe"; do
  [ "$(dirname "$program")" = "$build/examples" ] || { echo "expected $program in $build/examples" >&2; exit 2; }
done

tmp=$(mktemp -d)
server_pid=""
cleanup() {
  [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

check="setup"
fail() {
  echo "FAILED check $check: $*" >&2
  [ ! -f "$tmp/out" ] || { echo "--- the script's last output:" >&2; cat "$tmp/out" >&2; }
  [ ! -f "$tmp/log" ] || { echo "--- the mirror's log:" >&2; cat "$tmp/log" >&2; }
  exit 1
}
pass() { echo "ok: check $check: $*"; }

# ---- the stand-in Flickr8k, its archives and checksum lists ----
"$make_data" "$tmp/world" 24 4 4
text_names=(CrowdFlowerAnnotations.txt ExpertAnnotations.txt Flickr8k.lemma.token.txt Flickr8k.token.txt
  Flickr_8k.devImages.txt Flickr_8k.testImages.txt Flickr_8k.trainImages.txt readme.txt)
for name in CrowdFlowerAnnotations.txt ExpertAnnotations.txt readme.txt; do
  echo "stand-in for $name" >"$tmp/world/text/$name"
done
cp "$tmp/world/text/Flickr8k.token.txt" "$tmp/world/text/Flickr8k.lemma.token.txt"

sums() {  # sums HEADER DIR NAME…: the shipped format, "name<TAB>sha256<TAB>bytes" under a header line
  local header=$1 dir=$2 name
  shift 2
  printf '%s\tsha256\tbytes\n' "$header"
  for name in "$@"; do
    printf '%s\t%s\t%s\n' "$name" "$(sha256sum "$dir/$name" | cut -d' ' -f1)" "$(stat -c %s "$dir/$name")"
  done
}
mapfile -t images < <(cd "$tmp/world/images" && ls -- *.jpg)
mkdir -p "$tmp/sums" "$tmp/mirror" "$tmp/bad"
sums image "$tmp/world/images" "${images[@]}" >"$tmp/sums/Flickr8k_Dataset.sha256.tsv"
sums file "$tmp/world/text" "${text_names[@]}" >"$tmp/sums/Flickr8k_text.sha256.tsv"
h5=xception_weights_tf_dim_ordering_tf_kernels_notop.h5
h5_md5=$(md5sum "$h5_fixture" | cut -d' ' -f1)
echo "$h5_md5  $h5" >"$tmp/sums/xception_notop.md5"
cp "$h5_fixture" "$tmp/mirror/$h5"

# zip_dataset OUT IMAGES_DIR: the dataset archive as released, images under Flicker8k_Dataset/ and macOS forks.
zip_dataset() {
  local stage=$tmp/stage
  rm -rf "$stage"
  mkdir -p "$stage/Flicker8k_Dataset" "$stage/__MACOSX/Flicker8k_Dataset"
  cp "$2"/*.jpg "$stage/Flicker8k_Dataset/"
  echo fork >"$stage/__MACOSX/Flicker8k_Dataset/._${images[0]}"
  (cd "$stage" && zip -q -r -X "$1" Flicker8k_Dataset __MACOSX)
}
zip_dataset "$tmp/mirror/Flickr8k_Dataset.zip" "$tmp/world/images"
rm -rf "$tmp/stage" && mkdir -p "$tmp/stage/__MACOSX"
cp "$tmp/world/text"/*.txt "$tmp/stage/"
echo fork >"$tmp/stage/__MACOSX/._Flickr8k.token.txt"
(cd "$tmp/stage" && zip -q -r -X "$tmp/mirror/Flickr8k_text.zip" -- *.txt __MACOSX)
# A dataset archive whose copy of one image differs from the list (a valid zip: only the checksum finds it).
victim=${images[3]}
mkdir -p "$tmp/bad/images" && cp "$tmp/world/images"/*.jpg "$tmp/bad/images/"
printf 'corrupted' | dd of="$tmp/bad/images/$victim" bs=1 seek=200 conv=notrunc status=none
zip_dataset "$tmp/bad/Flickr8k_Dataset.zip" "$tmp/bad/images"

# ---- the mirror ----
# start_mirror [FAULT OPTIONS]: a fresh server over $tmp/mirror, logging to $tmp/log.
start_mirror() {
  [ -z "$server_pid" ] || { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; }
  rm -f "$tmp/log" "$tmp/port"
  "$server" --root "$tmp/mirror" --log "$tmp/log" --port 0 "$@" >"$tmp/port" &
  server_pid=$!
  for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
  [ -s "$tmp/port" ] || fail "the mirror server did not start"
  url=http://127.0.0.1:$(cat "$tmp/port")
  touch "$tmp/log"
}
requests() { wc -l <"$tmp/log"; }

dir=$tmp/flickr8k
weights=$tmp/weights
options() {
  echo --mirror "$url" --checksums "$tmp/sums" --dir "$dir" --weights-dir "$weights" --build "$build" --no-build \
    --xception-width 0.03125 --epochs 4 --batch-size 8 --beam 2 --min-free-gb 0
}
# run_script: the script with the test's options; its output in $tmp/out, its status in $status.
run_script() {
  status=0
  # shellcheck disable=SC2046  # the options are words without spaces (mktemp paths)
  "$script" $(options) >"$tmp/out" 2>&1 </dev/null || status=$?
}
says() { grep -qF -- "$1" "$tmp/out"; }

# ---- (g) settings and the user's own files, checked before anything is fetched ----
check="g (settings out of range are refused before any download)"
start_mirror
status=0
# shellcheck disable=SC2046
"$script" $(options) --beam 17 >"$tmp/out" 2>&1 </dev/null || status=$?
[ "$status" = 2 ] || fail "expected a usage error (2) for --beam 17, got $status"
says "--beam must be 1 … 16, got 17" || fail "the usage error does not name --beam"
[ "$(requests)" = 0 ] || fail "the mirror was asked for something before the settings were checked"
pass "usage error 2, nothing fetched"

check="g (a wrong .h5 among the user's archives is named, not passed over)"
mkdir -p "$tmp/from"
head -c 4096 "$h5_fixture" >"$tmp/from/$h5"
cp "$tmp/mirror/Flickr8k_text.zip" "$tmp/from/"
status=0
# shellcheck disable=SC2046
"$script" $(options) --from "$tmp/from" >"$tmp/out" 2>&1 </dev/null || status=$?
[ "$status" = 1 ] || fail "expected a failure for a wrong .h5 given with --from, got $status"
says "$tmp/from/$h5 has MD5" || fail "the wrong .h5 is not named"
grep -q "GET /$h5" "$tmp/log" && fail "the weights were downloaded instead of the user's file being refused"
[ -f "$tmp/from/$h5" ] || fail "the user's file was removed"
rm -rf "$tmp/from" "$dir"
pass "named, kept, nothing downloaded in its place"

# ---- (d) wrong archives ----
check="d (a text archive that is not a zip)"
cp "$tmp/mirror/Flickr8k_text.zip" "$tmp/good_text.zip"
echo "<html>not found</html>" >"$tmp/mirror/Flickr8k_text.zip"
start_mirror
run_script
[ "$status" != 0 ] || fail "the script succeeded with an HTML page as Flickr8k_text.zip"
{ says "Flickr8k_text.zip" && says "is not a zip archive"; } || fail "no message naming Flickr8k_text.zip as not a zip"
[ ! -e "$dir/archives/Flickr8k_text.zip" ] || fail "the bad archive was kept under its own name"
[ -e "$dir/archives/Flickr8k_text.zip.rejected" ] || fail "the bad archive was not moved aside"
pass "refused and moved aside"

check="d (a zip without the text files)"
rm "$tmp/mirror/Flickr8k_text.zip"
(cd "$tmp/world/images" && zip -q -X "$tmp/mirror/Flickr8k_text.zip" "${images[0]}")
run_script
[ "$status" != 0 ] || fail "the script succeeded with a zip of one image as Flickr8k_text.zip"
{ says "Flickr8k_text.zip" && says "lacks 8 of the files it should hold"; } ||
  fail "no message naming Flickr8k_text.zip and the missing files"
[ ! -e "$dir/archives/Flickr8k_text.zip" ] || fail "the wrong archive was kept under its own name"
[ "$(grep -c "GET /Flickr8k_text.zip range=- status=200" "$tmp/log")" = 2 ] ||
  fail "expected the two runs to fetch Flickr8k_text.zip afresh once each"
grep -q "GET /Flickr8k_Dataset.zip" "$tmp/log" && fail "the large archive was fetched although the text was wrong"
pass "refused, named, moved aside; the large archive not fetched"
cp "$tmp/good_text.zip" "$tmp/mirror/Flickr8k_text.zip"

# ---- (a) a cut download resumes; (b) an interrupted one continues ----
check="b (interrupted during a throttled download)"
dataset_bytes=$(stat -c %s "$tmp/mirror/Flickr8k_Dataset.zip")
start_mirror --cut "$h5:100000" --throttle "Flickr8k_Dataset.zip:$((dataset_bytes / 30))"
part=$dir/archives/Flickr8k_Dataset.zip.part
# In its own process group, so that the test can signal the group as a terminal's Ctrl-C does; with SIGINT at its
# default (a background job starts with it ignored, and bash cannot trap a signal ignored on entry).
# shellcheck disable=SC2046
setsid env --default-signal=INT "$script" $(options) >"$tmp/out" 2>&1 </dev/null &
script_pid=$!
for _ in $(seq 1200); do [ -s "$part" ] && break; sleep 0.05; done
[ -s "$part" ] || fail "no partial download of Flickr8k_Dataset.zip appeared"
kill -INT -- "-$script_pid"
status=0
wait "$script_pid" || status=$?
[ "$status" = 130 ] || fail "expected exit status 130 after the interruption, got $status"
says "interrupted: run scripts/flickr8k.sh again to continue" || fail "the script did not say how to continue"
sleep 0.2
# Its session, not only its group: the script starts each child in a process group of its own.
if pgrep -s "$script_pid" >/dev/null; then fail "processes left running in its session: $(pgrep -a -s "$script_pid")"; fi
cut_at=$(stat -c %s "$part")
{ [ "$cut_at" -gt 0 ] && [ "$cut_at" -lt "$dataset_bytes" ]; } || fail "the .part holds $cut_at of $dataset_bytes bytes"
pass "stopped with status 130, nothing left running, $cut_at of $dataset_bytes bytes kept in the .part"

check="a (a download cut mid-way resumes)"
grep -q "GET /$h5 range=- status=200 cut=100000" "$tmp/log" || fail "the mirror did not cut the weights download"
grep -q "GET /$h5 range=bytes=100000- status=206" "$tmp/log" || fail "no Range request from byte 100000 after the cut"
[ "$(md5sum <"$dir/archives/$h5" | cut -d' ' -f1)" = "$h5_md5" ] || fail "the resumed download differs from the file"
[ -f "$weights/xception_notop.nnck" ] || fail "the weights were not converted"
pass "resumed from byte 100000 with a Range request; MD5 matches"

# ---- (b) continued; (e) the whole run ----
check="b (the next run continues from the .part)"
start_mirror
run_script
[ "$status" = 0 ] || fail "the run after the interruption failed (status $status)"
grep -q "GET /Flickr8k_Dataset.zip range=bytes=$cut_at- status=206" "$tmp/log" ||
  fail "no Range request from byte $cut_at, where the interrupted download stopped"
grep -q "GET /$h5" "$tmp/log" && fail "the weights were fetched again"
pass "continued with a Range request from byte $cut_at"

check="e (the whole run installs a working describer)"
says "BLEU-1" || fail "train_flickr8k's BLEU line is not shown"
# Beside the user's figures, the published range (Tanti et al. 2017 as Brownlee 2017 quotes it: BLEU-1 0.401 to 0.578).
says "BLEU-1 0.401–0.578" || fail "the published BLEU range is not shown beside the run's figures"
[ -f "$weights/flickr8k.nnck" ] || fail "no $weights/flickr8k.nnck"
cmp -s "$weights/flickr8k.nnck" "$dir/run/model.nnck" || fail "the installed model is not the run's model.nnck"
for image in "${images[@]}"; do
  cmp -s "$tmp/world/images/$image" "$dir/data/Flickr8k_Dataset/$image" || fail "unpacked $image differs"
done
for name in "${text_names[@]}"; do
  cmp -s "$tmp/world/text/$name" "$dir/data/Flickr8k_text/$name" || fail "unpacked $name differs"
done
[ -z "$(find "$dir/data" -name '._*')" ] || fail "macOS resource forks were unpacked"
photo=$tmp/world/images/${images[0]}
caption=$("$describe" --model "$weights/flickr8k.nnck" "$photo") || fail "describe failed: $caption"
[[ $caption =~ ^"$photo: "[a-z]+ ]] || fail "describe printed '$caption', expected '$photo: <words>'"
pass "installed; describe says '${caption#"$photo: "}'"

mtimes() { stat -c '%n %Y.%y' "$weights/flickr8k.nnck" "$weights/xception_notop.nnck" "$dir/run/model.nnck"; }
installed=$(mtimes)

# ---- (c) corrupted images ----
check="c (an unpacked image corrupted afterwards)"
first=${images[1]}
printf 'XXXX' | dd of="$dir/data/Flickr8k_Dataset/$first" bs=1 seek=300 conv=notrunc status=none
before=$(requests)
run_script
[ "$status" = 0 ] || fail "the run failed (status $status)"
says "$first" || fail "the corrupted image $first is not named"
cmp -s "$tmp/world/images/$first" "$dir/data/Flickr8k_Dataset/$first" || fail "$first was not restored"
[ "$(requests)" = "$before" ] || fail "the mirror was asked for something although the archive was good"
[ "$(mtimes)" = "$installed" ] || fail "the installed files changed: $(mtimes)"
pass "named and extracted again, no request, nothing retrained"

check="c (the archive's copy is bad too: fetched again)"
printf 'XXXX' | dd of="$dir/data/Flickr8k_Dataset/$victim" bs=1 seek=300 conv=notrunc status=none
cp "$tmp/bad/Flickr8k_Dataset.zip" "$dir/archives/Flickr8k_Dataset.zip"
before=$(requests)
run_script
[ "$status" = 0 ] || fail "the run failed (status $status)"
{ says "$victim" && says "fetching Flickr8k_Dataset.zip again"; } || fail "$victim and the refetch are not named"
[ "$(sed -n "$((before + 1)),\$p" "$tmp/log" | grep -c "GET /Flickr8k_Dataset.zip range=- status=200")" = 1 ] ||
  fail "expected exactly one new full request for Flickr8k_Dataset.zip"
cmp -s "$tmp/world/images/$victim" "$dir/data/Flickr8k_Dataset/$victim" || fail "$victim was not restored"
[ "$(mtimes)" = "$installed" ] || fail "the installed files changed: $(mtimes)"
pass "archive fetched again once; $victim restored"

check="c (the mirror's copy is bad as well: refused)"
cp "$tmp/mirror/Flickr8k_Dataset.zip" "$tmp/good_dataset.zip"
cp "$tmp/bad/Flickr8k_Dataset.zip" "$tmp/mirror/Flickr8k_Dataset.zip"
cp "$tmp/bad/Flickr8k_Dataset.zip" "$dir/archives/Flickr8k_Dataset.zip"
printf 'XXXX' | dd of="$dir/data/Flickr8k_Dataset/$victim" bs=1 seek=300 conv=notrunc status=none
run_script
[ "$status" != 0 ] || fail "the run succeeded although every copy of $victim is bad"
grep -F "error" "$tmp/out" | grep -qF "$victim" || fail "the error does not name $victim"
[ ! -e "$dir/archives/Flickr8k_Dataset.zip" ] || fail "the bad archive was kept under its own name"
cp "$tmp/good_dataset.zip" "$tmp/mirror/Flickr8k_Dataset.zip"
run_script
[ "$status" = 0 ] || fail "the run after the mirror was repaired failed (status $status)"
cmp -s "$tmp/world/images/$victim" "$dir/data/Flickr8k_Dataset/$victim" || fail "$victim was not restored"
pass "refused naming $victim; the next run, with a good mirror, repairs it"

# ---- (f) nothing to do ----
check="f (a second run does nothing)"
before=$(requests)
run_script
[ "$status" = 0 ] || fail "the run failed (status $status)"
says "nothing to do" || fail "the script did not say 'nothing to do'"
says "trained model: BLEU-1" || fail "the second run does not repeat the trained model's BLEU"
[ "$(requests)" = "$before" ] || fail "$(($(requests) - before)) requests to the mirror"
[ "$(mtimes)" = "$installed" ] || fail "the installed files changed: $(mtimes)"
pass "no request, nothing touched"
echo "flickr8k_mirror_test: all checks passed"
