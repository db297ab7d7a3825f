#!/usr/bin/env bash
# Configures tests/find_package/ as a project of its own against the installed libnn (find_package), builds it with
# every core (its 75 header-alone files took 2 min one at a time through ctest --build-and-test, which builds
# serially), then runs the program.
#   cmake_build.sh INSTALL_PREFIX SOURCE_DIR WORK_DIR
set -euo pipefail
prefix=$1 source=$2 work=$3
cmake -S "$source" -B "$work" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release
cmake --build "$work" -j"$(nproc)"
cd "$work" && ./outside_project "$prefix"
