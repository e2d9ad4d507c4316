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
mkdir -p "$dir"
# Quiet unless something fails: then the whole log is shown.
if ! { cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo $flags &&
       cmake --build "$dir" -j"$(nproc)"; } >"$dir/build.log" 2>&1; then
    cat "$dir/build.log" >&2
    echo "build.sh: $variant build failed (log: $dir/build.log)" >&2
    exit 1
fi
echo "$dir"
