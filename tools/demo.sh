#!/bin/sh
# The main job, end to end on bundled data: builds flowsentry, then runs the collector over
# the real export captures in tests/fixtures/captures (NetFlow v5, v9 and IPFIX from real
# routers and probes), printing every decoded flow as JSON and a summary per exporter.
set -e
cd "$(dirname "$0")/.."
tools/deps.sh
dir=$(tools/build.sh release)
caps=tests/fixtures/captures
# groups.txt lists each exporter's captures in the order it sent them (templates first).
files=$(grep -v '^#' $caps/groups.txt | while read -r group rest; do
    for f in $rest; do printf ' --read %s/%s' "$caps" "$f"; done
done)
exec "$dir/flowsentry-collector" --no-publish --json $files "$@"
