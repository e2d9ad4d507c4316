#!/bin/sh
# Configures and builds flowsentry into a build folder.
#   tools/build.sh [release|asan]   (default release; folders build/ and build-asan/)
set -e
cd "$(dirname "$0")/.."
variant=${1:-release}
case "$variant" in
    release) dir=build; flags="-DFS_SANITIZE=OFF" ;;
    asan)    dir=build-asan; flags="-DFS_SANITIZE=ON" ;;
    *) echo "build.sh: unknown variant '$variant' (release or asan)" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo $flags >/dev/null
cmake --build "$dir" -j"$(nproc)" >&2
echo "$dir"
