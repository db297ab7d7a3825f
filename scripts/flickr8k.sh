#!/usr/bin/env bash
# From nothing to a photo describer: fetches Flickr8k and Keras's Xception weights, verifies every file, unpacks,
# converts the weights, trains the captioner and installs it as weights/flickr8k.nnck. Every stage is skipped when
# already done and resumable when interrupted; see usage() below and the stage functions at the end.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)

usage() {
  cat <<EOF
usage: scripts/flickr8k.sh [options]

Downloads Flickr8k (Flickr8k_Dataset.zip about 1.1 GB, Flickr8k_text.zip about 2.3 MB) and Keras's Xception
no-top weights (about 83 MB), verifies every image and text file against its SHA-256 and the weights against
Keras's MD5, unpacks, converts the weights, trains the captioner (features, then epochs, then BLEU on the test
split) and installs the best model as WEIGHTS_DIR/flickr8k.nnck, for build/examples/describe photo.jpg.
Each stage is skipped when already done; an interrupted run (Ctrl-C included) continues where it stopped
when run again. About 3 GB of disk in all.

options (defaults in brackets):
  --dir DIR            archives, unpacked data and the training run [$root/data/flickr8k]
  --from DIR           use the archives in DIR (Flickr8k_Dataset.zip, Flickr8k_text.zip and optionally
                       xception_weights_tf_dim_ordering_tf_kernels_notop.h5) instead of downloading them
  --mirror URL         fetch all three files from URL/NAME instead of their public sources
  --checksums DIR      checksum lists to verify against (Flickr8k_Dataset.sha256.tsv, Flickr8k_text.sha256.tsv,
                       xception_notop.md5) [$root/scripts/flickr8k]
  --weights-dir DIR    where xception_notop.nnck and flickr8k.nnck are installed [$root/weights]
  --build DIR          the build folder with the programs, brought up to date (or configured and built) there
                       before they are used [$root/build]
  --no-build           use the programs in the build folder as they are
  --epochs N           training epochs [20]
  --batch-size N       captions per step [64]
  --beam K             beam width of the test-split BLEU [3]
  --min-free-gb N      refuse to start with less free disk than this, less what DIR already holds [3]
  --xception-width W   (tests) the width of a small Xception fixture, passed to convert_keras_weights
  -h, --help           this text
EOF
}

# Options.
dir=$root/data/flickr8k
from="" mirror="" xception_width=""
checksums=$root/scripts/flickr8k
weights_dir=$root/weights
build=$root/build
epochs=20 batch_size=64 beam=3 min_free_gb=3 no_build=""

usage_error() {
  echo "scripts/flickr8k.sh: $*" >&2
  echo "run scripts/flickr8k.sh --help for the options" >&2
  exit 2
}
whole() {  # whole OPTION VALUE: VALUE, which must be a whole number
  [[ $2 =~ ^[0-9]+$ ]] || usage_error "$1 expects a whole number, got '$2'"
  echo "$2"
}
while [ $# -gt 0 ]; do
  option=$1
  case "$option" in
    -h | --help) usage; exit 0 ;;
    --no-build) no_build=1; shift; continue ;;
    --dir | --from | --mirror | --checksums | --weights-dir | --build | --epochs | --batch-size | --beam | \
      --min-free-gb | --xception-width)
      [ $# -ge 2 ] || usage_error "missing the value of $option"
      value=$2
      shift 2 ;;
    *) usage_error "unknown option '$option'" ;;
  esac
  case "$option" in
    --dir) dir=$value ;;
    --from) from=$value ;;
    --mirror) mirror=${value%/} ;;
    --checksums) checksums=$value ;;
    --weights-dir) weights_dir=$value ;;
    --build) build=$value ;;
    --epochs) epochs=$(whole "$option" "$value") ;;
    --batch-size) batch_size=$(whole "$option" "$value") ;;
    --beam) beam=$(whole "$option" "$value") ;;
    --min-free-gb) min_free_gb=$(whole "$option" "$value") ;;
    --xception-width) xception_width=$value ;;
  esac
done
# The settings train_flickr8k takes, checked now rather than after a 1.1 GB download.
[ "$epochs" -ge 1 ] || usage_error "--epochs must be at least 1, got $epochs"
[ "$batch_size" -ge 1 ] || usage_error "--batch-size must be at least 1, got $batch_size"
{ [ "$beam" -ge 1 ] && [ "$beam" -le 16 ]; } || usage_error "--beam must be 1 … 16, got $beam"
# Absolute paths: the programs below run with other working directories.
dir=$(realpath -m "$dir")
weights_dir=$(realpath -m "$weights_dir")
build=$(realpath -m "$build")
checksums=$(realpath -m "$checksums")
[ -z "$from" ] || from=$(realpath -m "$from")

NN_INTERRUPT_HINT="run scripts/flickr8k.sh again to continue (what is done is kept)"
# shellcheck source-path=SCRIPTDIR source=lib/download.sh
. "$root/scripts/lib/download.sh"

# The scratch files of a run (listings, hashes) live in one folder, removed however the script ends.
TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/flickr8k.XXXXXX")
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT

say() { echo "flickr8k: $*"; }
die() {
  echo "flickr8k: error: $*" >&2
  exit 1
}

# The three downloads, where they come from and the lists that say what they must hold.
dataset_zip=Flickr8k_Dataset.zip
text_zip=Flickr8k_text.zip
h5=xception_weights_tf_dim_ordering_tf_kernels_notop.h5
images_list=$checksums/Flickr8k_Dataset.sha256.tsv
text_list=$checksums/Flickr8k_text.sha256.tsv
h5_md5_file=$checksums/xception_notop.md5
archives=$dir/archives
data=$dir/data
state=$dir/state  # stage markers: each records what its stage depends on, see marker_ok
run_dir=$dir/run
xception=$weights_dir/xception_notop.nnck
model=$weights_dir/flickr8k.nnck

urls_of() {  # urls_of NAME: where NAME is fetched from, best first
  if [ -n "$mirror" ]; then
    echo "$mirror/$1"
  elif [ "$1" = "$h5" ]; then
    echo "https://storage.googleapis.com/tensorflow/keras-applications/xception/$1"
    echo "https://github.com/fchollet/deep-learning-models/releases/download/v0.4/$1"
  else
    echo "https://github.com/jbrownlee/Datasets/releases/download/Flickr8k/$1"
  fi
}

size_of() {  # size_of NAME: what the user is told before a download
  case "$1" in
    "$dataset_zip") echo "about 1.1 GB" ;;
    "$text_zip") echo "about 2.3 MB" ;;
    *) echo "about 83 MB" ;;
  esac
}

# ---- checks before anything ----

check_tools() {
  local missing=() tool
  for tool in curl unzip sha256sum md5sum df du awk xargs cmp realpath; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  [ ${#missing[@]} -eq 0 ] || die "missing tools: ${missing[*]} (scripts/deps.sh installs them on Debian)"
  local list
  for list in "$images_list" "$text_list" "$h5_md5_file"; do
    [ -f "$list" ] || die "no checksum list $list"
  done
  h5_md5=$(awk 'NR == 1 { print $1 }' "$h5_md5_file")
  [[ $h5_md5 =~ ^[0-9a-f]{32}$ ]] || die "$h5_md5_file: expected 'MD5  $h5' on its first line"
}

# Free disk: the whole run needs about --min-free-gb in DIR; what DIR already holds counts towards it.
check_disk() {
  local existing=$dir held_k free_k need_k
  while [ ! -d "$existing" ]; do existing=$(dirname "$existing"); done
  free_k=$(df -Pk "$existing" | awk 'NR == 2 { print $4 }')
  held_k=0
  # Archives moved aside as wrong are no progress towards the run.
  [ -d "$dir" ] && held_k=$(du -sk --exclude='*.rejected' "$dir" | awk '{ print $1 }')
  need_k=$((min_free_gb * 1024 * 1024 - held_k))
  if [ "$need_k" -gt "$free_k" ]; then
    die "$existing has $((free_k / 1024)) MB free; the run needs about $min_free_gb GB in $dir in all, which" \
      "holds $((held_k / 1024)) MB so far (free some space, or choose another --dir)"
  fi
}

# The programs of the build folder, brought up to date there (and the folder configured first, as scripts/build.sh
# does, when it has none): a build from before this script's time would train with labels and defaults it does not
# know. Up to date, the build only checks the dependencies. --no-build uses them as they are.
train_bin=$build/examples/train_flickr8k
convert_bin=$build/examples/convert_keras_weights
describe_bin=$build/examples/describe
ensure_programs() {
  if [ -n "$no_build" ]; then
    [ -x "$train_bin" ] && [ -x "$convert_bin" ] && [ -x "$describe_bin" ] && return 0
    die "--no-build, but $build lacks train_flickr8k, convert_keras_weights or describe"
  fi
  say "building train_flickr8k, convert_keras_weights and describe in $build (nothing to do when up to date)"
  if [ ! -f "$build/CMakeCache.txt" ]; then
    nn_run cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DNN_BUILD_EXAMPLES=ON >&2 ||
      die "configuring $build failed (scripts/deps.sh installs what the build needs)"
  fi
  mkdir -p "$state"
  if ! nn_run cmake --build "$build" -j"$(nproc)" --target train_flickr8k convert_keras_weights describe \
    >"$state/build.log" 2>&1; then
    tail -n 20 "$state/build.log" >&2
    die "building the programs in $build failed (the whole log: $state/build.log)"
  fi
}

# ---- markers ----

# A stage is done when its marker holds exactly what the stage would record now: its inputs (list checksums,
# settings) and its outputs (checksums or file listings). Any change to either redoes the stage.
marker_ok() { [ -f "$state/$1" ] && [ "$(cat "$state/$1")" = "$2" ]; }
write_marker() {
  mkdir -p "$state"
  printf '%s\n' "$2" >"$state/$1.tmp"
  mv "$state/$1.tmp" "$state/$1"
}

# ---- archives ----

# entries_of ARCHIVE LIST OUT: writes "name<TAB>entry" for every file of LIST, found by name anywhere in the archive
# (the real archives put the images under Flicker8k_Dataset/, misspelt, beside a __MACOSX/ folder of resource forks);
# fails naming what is wrong.
entries_of() {
  local archive=$1 list=$2 out=$3 listing
  listing=$(mktemp)
  if ! unzip -Z1 "$archive" >"$listing" 2>/dev/null; then
    rm -f "$listing"
    echo "is not a zip archive"
    return 1
  fi
  awk -F'\t' -v out="$out" '
    FILENAME == ARGV[1] {
      if ($0 ~ /^__MACOSX\// || $0 ~ /\/$/) next
      n = split($0, part, "/")
      if (part[n] ~ /^\._/) next
      entry[part[n]] = $0
      next
    }
    FNR > 1 {
      if ($1 in entry) print $1 "\t" entry[$1] > out
      else { missing++; if (missing <= 5) names = names " " $1 }
    }
    END {
      if (missing) { printf "lacks %d of the files it should hold:%s%s\n", missing, names, (missing > 5 ? " …" : ""); exit 1 }
    }' "$listing" "$list"
  local status=$?
  rm -f "$listing"
  return "$status"
}

# archive_path NAME: where NAME is or will be (a --from archive is used where it is).
archive_path() {
  if [ -n "$from" ] && [ -f "$from/$1" ]; then echo "$from/$1"; else echo "$archives/$1"; fi
}

# need_archive NAME LIST: NAME present, a zip holding every file of LIST (fetched if absent). A wrong download is
# moved aside to NAME.rejected, so that the next run fetches it again.
need_archive() {
  local name=$1 list=$2 path why
  path=$(archive_path "$name")
  mkdir -p "$state"
  if [ -f "$path" ]; then
    why=$(entries_of "$path" "$list" "$state/$name.entries") && return 0
    [ "$path" = "$archives/$name" ] || die "$path $why: replace it with Flickr8k's $name"
    mv -f "$path" "$path.rejected"
    die "$path $why (moved aside to $name.rejected; run again to fetch it again)"
  fi
  [ -z "$from" ] || die "$from holds no $name (--from)"
  mkdir -p "$archives"
  local urls
  mapfile -t urls < <(urls_of "$name")
  # A .part that is already a whole zip (the script was stopped between the last byte and the rename) is not fetched
  # again; a truncated one has no central directory, so unzip -Z1 refuses it.
  if ! { [ -f "$path.part" ] && entries_of "$path.part" "$list" "$state/$name.entries" >/dev/null; }; then
    nn_fetch "$path" "${urls[@]}" || die "$name could not be downloaded from ${urls[*]}"
  fi
  if ! why=$(entries_of "$path.part" "$list" "$state/$name.entries"); then
    mv -f "$path.part" "$path.rejected"
    die "$name from ${urls[0]} $why: refused (moved aside to $archives/$name.rejected; a run again fetches it again)"
  fi
  mv "$path.part" "$path"
  say "$name: downloaded, holds all $(($(wc -l <"$list") - 1)) files it should"
}

# refetch_archive NAME: the archive holds bad copies; delete it so that need_archive fetches it again.
refetch_archive() {
  local path
  path=$(archive_path "$1")
  [ "$path" = "$archives/$1" ] || die "$path holds bad copies (above): replace it with Flickr8k's $1"
  mv -f "$path" "$path.rejected"
}

# need_h5: sets h5_path to Keras's no-top weights with the expected MD5: given (--from), downloaded by
# weights/download.sh, or fetched into DIR/archives. (A variable, not $(…): a download in a subshell would escape
# the interruption trap.)
need_h5() {
  local candidate urls
  # The user's own copy (--from) must be the right file: a wrong one is named, never passed over for a download.
  if [ -n "$from" ] && [ -f "$from/$h5" ] && [ "$(nn_md5 "$from/$h5")" != "$h5_md5" ]; then
    die "$from/$h5 has MD5 $(nn_md5 "$from/$h5"), not Keras's $h5_md5: replace it, or remove it to download it"
  fi
  for candidate in ${from:+"$from/$h5"} "$weights_dir/$h5" "$archives/$h5"; do
    if [ -f "$candidate" ] && [ "$(nn_md5 "$candidate")" = "$h5_md5" ]; then
      h5_path=$candidate
      return 0
    fi
  done
  mapfile -t urls < <(urls_of "$h5")
  mkdir -p "$archives"
  say "$h5: fetching ($(size_of "$h5"))"
  nn_fetch_md5 "$archives/$h5" "$h5_md5" "${urls[@]}" || die "$h5 could not be downloaded with MD5 $h5_md5"
  h5_path=$archives/$h5
}

# ---- verification and unpacking ----

# listing DEST: "name<TAB>size<TAB>mtime" of every file in DEST, sorted; a file whose line is unchanged since it
# was verified is not hashed again (a second run then reads 8,091 inodes, not 1.1 GB).
listing() { [ -d "$1" ] && find "$1" -maxdepth 1 -type f -printf '%f\t%s\t%T@\n' | LC_ALL=C sort; true; }

# changed_names DEST LIST MARKER: the names of LIST whose listing line differs from the one recorded in MARKER
# (all of them when MARKER was written for another list).
changed_names() {
  local dest=$1 list=$2 marker=$3 old now
  old=$(mktemp) now=$(mktemp)
  if [ -f "$state/$marker" ] && [ "$(head -n1 "$state/$marker")" = "list $(nn_sha256 "$list")" ]; then
    tail -n +2 "$state/$marker" >"$old"
  fi
  listing "$dest" >"$now"
  awk -F'\t' -v old="$old" -v now="$now" '
    BEGIN {
      while ((getline line < old) > 0) was[line] = 1
      while ((getline line < now) > 0) { split(line, field, "\t"); is[field[1]] = line }
    }
    FNR > 1 && !(($1 in is) && (is[$1] in was)) { print $1 }' "$list"
  rm -f "$old" "$now"
}

hash_names() {  # hash_names DEST < NAMES: "sha256  name" of each (batches, so that a TERM stops it quickly)
  cd "$1" && exec xargs -r -d '\n' -n 200 sha256sum --
}

# bad_names DEST LIST < NAMES: those of NAMES that are missing from DEST or differ from LIST.
bad_names() {
  local dest=$1 list=$2 names present sums name
  names=$(mktemp) present=$(mktemp) sums=$(mktemp)
  cat >"$names"
  while IFS= read -r name; do
    if [ -f "$dest/$name" ]; then echo "$name" >>"$present"; else echo "$name"; fi
  done <"$names"
  if [ -s "$present" ]; then  # an unreadable file is reported by the join below
    nn_run hash_names "$dest" <"$present" >"$sums" || true
  fi
  awk -F'\t' -v present="$present" '
    FILENAME == ARGV[1] { want[$1] = $2; next }
    { hash = substr($0, 1, 64); name = substr($0, 67); if (want[name] == hash) good[name] = 1 }
    END { while ((getline name < present) > 0) if (!(name in good)) print name }' "$list" "$sums"
  rm -f "$names" "$present" "$sums"
}

name_some() {  # name_some < NAMES: "a, b, c and N more"
  awk '{ n++; if (n <= 10) s = s (n > 1 ? ", " : "") $0 } END { print s (n > 10 ? " and " n - 10 " more" : "") }'
}

# extract ARCHIVE DEST ENTRIES < NAMES: the entries of NAMES, flattened into DEST. unzip's own complaints (a bad
# CRC) are shown; the verification that follows decides. -DD: the files get the time of extraction, not the
# archive's, so that a file extracted again never looks like the one verified before (see listing).
extract() {
  local archive=$1 dest=$2 entries=$3 wanted
  mkdir -p "$dest"
  wanted=$(mktemp)
  awk -F'\t' 'FILENAME == ARGV[1] { entry[$1] = $2; next } { print entry[$0] }' "$entries" - >"$wanted"
  nn_run xargs -r -d '\n' -n 500 unzip -o -DD -j -qq -d "$dest" "$archive" <"$wanted" || true
  rm -f "$wanted"
  # unzip's status (through xargs, only "failed") cannot tell a bad copy in the archive from a full disk; the free
  # space can, and a full disk must not be taken for a bad archive (which would be fetched again).
  local free_k
  free_k=$(df -Pk "$dest" | awk 'NR == 2 { print $4 }')
  [ "$free_k" -ge 10240 ] || die "unpacking into $dest: the disk is full ($((free_k / 1024)) MB free); free some space" \
    "and run again"
}

# unpacked LABEL ARCHIVE LIST DEST MARKER: every file of LIST in DEST with the right SHA-256. Files that differ are
# named and extracted again; if the archive's copy is bad too, the archive is fetched again, once.
unpacked() {
  local label=$1 name=$2 list=$3 dest=$4 marker=$5 total bad_file round
  total=$(($(wc -l <"$list") - 1))
  bad_file=$(mktemp)
  # Through files, not a pipeline: nn_run must run in this shell, where the interruption trap is.
  changed_names "$dest" "$list" "$marker" >"$bad_file.changed"
  bad_names "$dest" "$list" <"$bad_file.changed" >"$bad_file"
  rm -f "$bad_file.changed"
  if [ -s "$bad_file" ]; then
    if [ "$(wc -l <"$bad_file")" -eq "$total" ]; then
      say "$label: unpacking $total files from $name"
    else
      say "$label: $(wc -l <"$bad_file") of $total differ from their SHA-256 or are missing:" \
        "$(name_some <"$bad_file"); extracting them again from $name"
    fi
    for round in 1 2; do
      need_archive "$name" "$list"
      extract "$(archive_path "$name")" "$dest" "$state/$name.entries" <"$bad_file"
      bad_names "$dest" "$list" <"$bad_file" >"$bad_file.still"
      mv "$bad_file.still" "$bad_file"
      [ -s "$bad_file" ] || break
      if [ "$round" = 1 ]; then
        say "$label: $name's copy is bad too for $(name_some <"$bad_file"); fetching $name again"
        refetch_archive "$name"
      else
        refetch_archive "$name"
        die "$label: $(name_some <"$bad_file") still differ from their SHA-256 after fetching $name again" \
          "(moved aside to $name.rejected)"
      fi
    done
  fi
  rm -f "$bad_file"
  write_marker "$marker" "list $(nn_sha256 "$list")
$(listing "$dest")"
  say "$label: all $total files verified"
}

# Quick checks for the plan: done when nothing changed since the last verification.
text_done() { [ -z "$(changed_names "$data/Flickr8k_text" "$text_list" text.ok)" ]; }
images_done() { [ -z "$(changed_names "$data/Flickr8k_Dataset" "$images_list" images.ok)" ]; }

# ---- conversion, training, installation ----

convert_record() { printf 'h5-md5 %s\nwidth %s\nout %s' "$h5_md5" "${xception_width:-1}" "$(nn_sha256 "$xception")"; }
convert_done() { [ -f "$xception" ] && marker_ok convert.ok "$(convert_record)"; }

convert() {
  local temp=$weights_dir/.xception_notop.nnck.tmp
  need_h5
  mkdir -p "$weights_dir"
  say "weights: converting $h5_path to $xception"
  NN_TEMP_FILES+=("$temp")
  mkdir -p "$state"
  # Its own output names the temporary file and suggests a next step that is not this script's: kept in a log.
  if ! nn_run "$convert_bin" "$h5_path" "$temp" ${xception_width:+--width "$xception_width"} >"$state/convert.log" 2>&1
  then
    cat "$state/convert.log" >&2
    die "converting $h5_path failed"
  fi
  mv "$temp" "$xception"  # atomically: a describer never sees half a file
  write_marker convert.ok "$(convert_record)"
  say "weights: $xception written"
}

train_record() {
  local model_sha=missing
  [ -f "$run_dir/model.nnck" ] && model_sha=$(nn_sha256 "$run_dir/model.nnck")
  printf 'images-list %s\ntext-list %s\nxception %s\nepochs %s\nbatch-size %s\nbeam %s\nmodel %s' \
    "$(nn_sha256 "$images_list")" "$(nn_sha256 "$text_list")" "$(nn_sha256 "$xception")" "$epochs" "$batch_size" \
    "$beam" "$model_sha"
}
train_done() { [ -f "$run_dir/model.nnck" ] && [ -f "$xception" ] && marker_ok train.ok "$(train_record)"; }

train() {
  local args=(--data "$data" --xception "$xception" --out "$run_dir" --epochs "$epochs" --batch-size "$batch_size"
    --beam "$beam")
  # train_flickr8k reuses the features already extracted by itself; --resume continues the epochs mid-way.
  if [ -f "$run_dir/last.nnck" ]; then
    args+=(--resume)
    say "training: continuing the run in $run_dir"
  else
    say "training: features, then $epochs epochs, then BLEU on the test split (in $run_dir)"
  fi
  [ -t 2 ] || args+=(--no-progress)
  mkdir -p "$state"
  # tee ignores Ctrl-C: it must see train_flickr8k's last words (the stop message) and end with them.
  nn_run "$train_bin" "${args[@]}" > >(trap '' INT; tee "$state/train.out") ||
    die "train_flickr8k failed (above); to train afresh, delete $run_dir"
  write_marker train.ok "$(train_record)"
}

install_done() { [ -f "$model" ] && [ -f "$run_dir/model.nnck" ] && cmp -s "$run_dir/model.nnck" "$model"; }

install_model() {
  local temp=$weights_dir/.flickr8k.nnck.tmp
  NN_TEMP_FILES+=("$temp")
  cp "$run_dir/model.nnck" "$temp"
  mv "$temp" "$model"  # atomically, in the same folder
  say "installed $model"
}

# ---- the run ----

# describe, describe_server and the page find flickr8k.nnck in the source tree's weights/ by themselves.
next_step() {
  if [ "$weights_dir" = "$root/weights" ]; then
    say "next: $describe_bin photo.jpg"
  else
    say "next: $describe_bin --model $model photo.jpg"
  fi
}

main() {
  check_tools
  local todo=() fetch=()
  text_done || todo+=("text")
  images_done || todo+=("images")
  convert_done || todo+=("convert")
  train_done || todo+=("train")
  install_done || todo+=("install")
  if [ ${#todo[@]} -eq 0 ]; then
    say "nothing to do: text and images verified, weights converted ($xception), model trained and installed" \
      "($model)"
    [ ! -f "$state/train.out" ] || grep -E '^(BLEU|published)' "$state/train.out" | sed 's/^/flickr8k: trained model: /' || true
    next_step
    return 0
  fi
  local stage
  for stage in "${todo[@]}"; do
    case "$stage" in
      text) [ -f "$(archive_path "$text_zip")" ] || fetch+=("$text_zip") ;;
      images) [ -f "$(archive_path "$dataset_zip")" ] || fetch+=("$dataset_zip") ;;
      convert) [ -f "$weights_dir/$h5" ] || [ -f "$archives/$h5" ] || [ -f "${from:-/nonexistent}/$h5" ] ||
        fetch+=("$h5") ;;
    esac
  done
  say "to do: ${todo[*]}"
  local part
  for stage in "${fetch[@]}"; do
    part=""
    [ ! -s "$archives/$stage.part" ] || part=", continuing from byte $(stat -c %s "$archives/$stage.part")"
    say "will fetch $stage ($(size_of "$stage")$part) from $(urls_of "$stage" | head -n1)"
  done
  check_disk
  case " ${todo[*]} " in *" convert "* | *" train "*) ensure_programs ;; esac

  # The small archive first, so that a wrong mirror is found before the large download.
  unpacked text "$text_zip" "$text_list" "$data/Flickr8k_text" text.ok
  convert_done || convert
  unpacked images "$dataset_zip" "$images_list" "$data/Flickr8k_Dataset" images.ok
  train_done || train
  install_done || install_model
  say "done: $model"
  next_step
}

main
