#!/usr/bin/env bash
# Builds tests/find_package/main.cpp with nothing but pkg-config's flags for the installed libnn.pc, then runs it.
#   pkg_config_build.sh INSTALL_PREFIX MAIN_CPP WORK_DIR
set -euo pipefail
prefix=$1 main=$2 work=$3
mkdir -p "$work"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig:$prefix/lib/x86_64-linux-gnu/pkgconfig:$prefix/share/pkgconfig"
pkg-config --modversion libnn
# shellcheck disable=SC2046  # the flags are meant to split into words
c++ -O1 "$main" -o "$work/outside_project" $(pkg-config --cflags libnn) $(pkg-config --libs libnn)
cd "$work" && ./outside_project "$prefix"
