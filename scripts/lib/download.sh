# shellcheck shell=bash
# Resumable, verified downloads for libnn's scripts (weights/download.sh, scripts/flickr8k.sh): source this file.
#
# A file is fetched into NAME.part with `curl -C -`, so that an interrupted transfer continues where it stopped, also
# when the script was killed and is run again; it is renamed to NAME only once complete and verified. Children run in
# the background, each in a process group of its own, and are waited for, so that Ctrl-C (or a TERM sent to the
# script alone) stops them at once: the trap below sends TERM to the child's whole group — grandchildren too (make
# and the compilers under cmake, unzip under xargs) — keeps the .part file and says how to continue.

# What the interruption message says after "interrupted: ".
NN_INTERRUPT_HINT=${NN_INTERRUPT_HINT:-"run $0 again to continue"}
NN_CHILD=""
NN_TEMP_FILES=()  # half-written outputs to delete when interrupted (never a .part: it is what a rerun continues)

nn_interrupted() {
  trap - INT TERM
  if [ -n "$NN_CHILD" ]; then
    # The child's group: train_flickr8k saves mid-epoch on TERM; curl, unzip and make just stop.
    kill -TERM -- "-$NN_CHILD" 2>/dev/null || kill -TERM "$NN_CHILD" 2>/dev/null || true
    wait "$NN_CHILD" 2>/dev/null || true
  fi
  [ ${#NN_TEMP_FILES[@]} -eq 0 ] || rm -f -- "${NN_TEMP_FILES[@]}"
  echo >&2
  echo "interrupted: $NN_INTERRUPT_HINT" >&2
  exit 130
}
trap nn_interrupted INT TERM

# nn_run CMD ARG…: runs CMD (a program or a function) as a background child in its own process group (job control,
# set -m, for just this start) and waits for it (see above); returns its status. Its standard input is the caller's,
# said explicitly: without job control bash would give a background command /dev/null instead.
nn_run() {
  local status=0
  set -m
  "$@" 0<&0 &
  NN_CHILD=$!
  set +m
  wait "$NN_CHILD" || status=$?
  NN_CHILD=""
  return "$status"
}

nn_md5() { md5sum "$1" | cut -d' ' -f1; }
nn_sha256() { sha256sum "$1" | cut -d' ' -f1; }

# nn_fetch OUT URL…: downloads the first URL that works into OUT.part, resuming what OUT.part already holds; leaves
# OUT.part complete (the caller verifies and renames it). Each URL is tried a few times: a dropped connection resumes.
nn_fetch() {
  local out=$1 url attempt status code
  shift
  command -v curl >/dev/null || { echo "$(basename "$out"): needs curl to download (apt-get install curl)" >&2; return 1; }
  local progress=(-sS)
  [ -t 2 ] && progress=(--progress-bar)
  for url in "$@"; do
    for attempt in 1 2 3 4; do
      [ "$attempt" = 1 ] || sleep 1
      if [ -s "$out.part" ]; then
        echo "$(basename "$out"): continuing from byte $(stat -c %s "$out.part") of $url" >&2
      else
        echo "$(basename "$out"): downloading $url" >&2
      fi
      status=0
      nn_run curl -fL -C - "${progress[@]}" --connect-timeout 30 --speed-limit 1024 --speed-time 60 \
        -w '%{http_code}' -o "$out.part" "$url" >"$out.http" || status=$?
      code=$(cat "$out.http" 2>/dev/null || true)
      rm -f "$out.http"
      [ "$status" = 0 ] && return 0
      case "$status:$code" in
        33:* | *:416)  # the server cannot resume from here (no ranges, or .part is not a prefix): start afresh
          echo "$(basename "$out"): cannot resume (curl $status, HTTP $code); starting again" >&2
          rm -f "$out.part" ;;
        *:404 | *:403 | 6:* | 7:*)  # not there, or no such host: try the next mirror
          echo "$(basename "$out"): $url failed (curl $status, HTTP ${code:-none})" >&2
          break ;;
        *) echo "$(basename "$out"): transfer failed (curl $status, HTTP ${code:-none}); retrying" >&2 ;;
      esac
    done
  done
  return 1
}

# nn_fetch_md5 OUT MD5 URL…: OUT with the given MD5, fetched unless already there. A complete .part whose MD5 is
# wrong is deleted (it is not a prefix of the right file) and the next URL tried.
nn_fetch_md5() {
  local out=$1 md5=$2 url
  shift 2
  if [ -f "$out" ] && [ "$(nn_md5 "$out")" = "$md5" ]; then return 0; fi
  if [ -f "$out.part" ] && [ "$(nn_md5 "$out.part")" = "$md5" ]; then  # killed after the last byte, before the rename
    mv "$out.part" "$out"
    return 0
  fi
  for url in "$@"; do
    if nn_fetch "$out" "$url"; then
      if [ "$(nn_md5 "$out.part")" = "$md5" ]; then
        mv "$out.part" "$out"
        return 0
      fi
      echo "$(basename "$out"): MD5 $(nn_md5 "$out.part") from $url, expected $md5; deleted" >&2
      rm -f "$out.part"
    fi
  done
  echo "$(basename "$out"): could not be downloaded with MD5 $md5" >&2
  return 1
}
