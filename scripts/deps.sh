#!/usr/bin/env bash
# Installs the Debian 12 packages libnn needs to build and test, if any are missing.
# As root it runs apt-get itself; otherwise through sudo when that needs no password; otherwise it prints the
# exact command to run and exits with status 1.
set -euo pipefail

#   scripts/deps.sh           what building libnn and its programs needs
#   scripts/deps.sh --tests   also what the tests need (doctest; qemu-user, binutils: portability; clang-format;
#                             GNU time: the bad-input table measures peak memory; zip: the loopback-mirror test
#                             zips up its stand-in Flickr8k; libopenmpi-dev, openmpi-bin: nn::distributed and its
#                             tests under mpirun; lld: scripts/sanitizers.sh links with it)
packages=(g++ cmake make pkg-config libeigen3-dev libopenblas-openmp-dev libstb-dev libcereal-dev libjpeg62-turbo-dev
          libpng-dev libcpp-httplib-dev libmicrohttpd-dev curl unzip)  # curl, unzip: scripts/flickr8k.sh
if [ "${1:-}" = "--tests" ]; then
  packages+=(doctest-dev qemu-user binutils clang-format time zip lld)
  packages+=(libjemalloc2)  # the benchmarks run their PyTorch peers with jemalloc too (benchmarks/bench.h)
  packages+=(libopenmpi-dev openmpi-bin)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "libnn: installing missing Debian packages: ${missing[*]}" >&2
install=(apt-get install -y --no-install-recommends "${missing[@]}")
if [ "$(id -u)" -eq 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${install[@]}"
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo -n apt-get update -qq
  sudo -n env DEBIAN_FRONTEND=noninteractive "${install[@]}"
else
  echo "libnn: cannot install packages (not root, no password-less sudo). Run:" >&2
  echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
