#!/bin/sh
# Runs the whole test suite twice: an optimised build, then an ASan+UBSan build.
# Installs what it needs first (Debian packages, see tools/deps.sh).
set -e
cd "$(dirname "$0")/.."
tools/deps.sh
status=0
for variant in release asan; do
    dir=$(tools/build.sh "$variant")
    echo "== $variant tests ($dir)"
    # Sanitizers abort on the first report, so a finding fails the test that caused it.
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --test-dir "$dir" --output-on-failure --timeout 600 || status=1
done
exit $status
