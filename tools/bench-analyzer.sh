#!/bin/sh
# bench-analyzer.sh - batch throughput and peak memory of flowsentry-analyzer
# over the generated ten days of an office network (tools/lib/netgen),
# scaled up to at least ten million flows.
#
#  1. fs-netgen writes the ten days once, as JSON lines and as nfdump CSV,
#     with the analyzer configuration of that network (BENCH_SCALE times the
#     default traffic: about 10.6 M flows at 14).
#  2. For each format, flowsentry-analyzer --read FILE runs under
#     /usr/bin/time -v: one process, one thread, the whole file, every
#     window scored and every alert written, as in production batch mode.
#  3. It prints flows/s against wall-clock and CPU time, the peak resident
#     memory, the hosts the analyzer tracked at the end, and the memory per
#     tracked host: (peak - peak of the same run on an empty file) / hosts.
#
# Settings (environment):
#   BENCH_BUILD    build directory (default build-bench; built if needed)
#   BENCH_NO_BUILD "yes": use the binaries already in BENCH_BUILD as they are
#   BENCH_SCALE    fs-netgen --scale (default 14)
#   BENCH_HOSTS    fs-netgen --hosts (default 300)
#   BENCH_FORMATS  inputs to time (default "json csv")
#   BENCH_KEEP     "yes": keep the generated files (their directory is printed)
#
# Everything goes under a temporary directory, removed at the end.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
BUILD=${BENCH_BUILD:-build-bench}
SCALE=${BENCH_SCALE:-14}
HOSTS=${BENCH_HOSTS:-300}
FORMATS=${BENCH_FORMATS:-json csv}

log() { printf '%s\n' "$*" >&2; }

if [ ! -x /usr/bin/time ]; then
    log "bench-analyzer: /usr/bin/time is needed (Debian package 'time')"
    exit 2
fi

WORK=$(mktemp -d /tmp/fs-bench-analyzer.XXXXXX) || exit 1
cleanup() {
    if [ "${BENCH_KEEP:-no}" = yes ]; then
        log "bench-analyzer: files kept in $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "${BENCH_NO_BUILD:-no}" = yes ]; then
    :
elif ! cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$WORK/cmake.log" 2>&1 ||
    ! cmake --build "$BUILD" -j"$(nproc)" --target fs-netgen flowsentry-analyzer \
        >>"$WORK/cmake.log" 2>&1; then
    cat "$WORK/cmake.log" >&2
    exit 1
fi
case $BUILD in
/*) BIN=$BUILD ;;
*) BIN=$ROOT/$BUILD ;;
esac
ANALYZER=$BIN/flowsentry-analyzer

log "bench-analyzer: generating ten days, $HOSTS hosts, scale $SCALE"
if ! "$BIN/fs-netgen" --out "$WORK" --hosts "$HOSTS" --scale "$SCALE" 2>"$WORK/netgen.log"; then
    cat "$WORK/netgen.log" >&2
    exit 1
fi
FLOWS=$(sed -n 's/.*flows=\([0-9]*\).*/\1/p' "$WORK/netgen.log")
log "bench-analyzer: $(cat "$WORK/netgen.log")"

# One timed run: prints "wall cpu maxrss_kb hosts_tracked flows_read"; fails
# when the analyzer does.
timed() {
    input=$1
    name=$2
    rm -f "$WORK/$name.alerts"
    if ! /usr/bin/time -v -o "$WORK/$name.time" "$ANALYZER" -c "$WORK/analyzer.conf" \
        --read "$input" --alerts "$WORK/$name.alerts" --report "$WORK/$name.report" \
        >"$WORK/$name.out" 2>"$WORK/$name.err"; then
        cat "$WORK/$name.err" >&2
        return 1
    fi
    awk -v err="$WORK/$name.err" '
        function secs(t,   n, p, s, i) {   # [h:]m:ss.cc
            n = split(t, p, ":"); s = 0
            for (i = 1; i <= n; i++) s = s * 60 + p[i]
            return s
        }
        /Elapsed \(wall clock\)/ { wall = secs($NF) }
        /User time \(seconds\)/ { cpu += $NF }
        /System time \(seconds\)/ { cpu += $NF }
        /Maximum resident set size/ { rss = $NF }
        END {
            hosts = 0; flows = 0
            while ((getline line < err) > 0) {
                if (match(line, /hosts_tracked=[0-9]+/)) hosts = substr(line, RSTART + 14, RLENGTH - 14)
                if (match(line, / flows=[0-9]+/)) flows = substr(line, RSTART + 7, RLENGTH - 7)
            }
            print wall, cpu, rss, hosts, flows
        }' "$WORK/$name.time"
}

: >"$WORK/empty.json"
timed "$WORK/empty.json" empty >"$WORK/empty.res" || exit 1
read -r _ _ BASE_RSS _ _ <"$WORK/empty.res"

printf '%-6s %12s %9s %9s %13s %13s %10s %8s %12s\n' input flows wall_s cpu_s \
    flows/s_wall flows/s_cpu peak_MiB hosts KiB/host
for fmt in $FORMATS; do
    timed "$WORK/flows.$fmt" "$fmt" >"$WORK/$fmt.res" || exit 1
    read -r wall cpu rss hosts nread <"$WORK/$fmt.res"
    if [ "$nread" != "$FLOWS" ]; then
        log "bench-analyzer: the analyzer read $nread of $FLOWS flows from $fmt"
    fi
    awk -v f="$fmt" -v n="$FLOWS" -v w="$wall" -v c="$cpu" -v r="$rss" -v b="$BASE_RSS" \
        -v h="$hosts" 'BEGIN {
            printf "%-6s %12d %9.2f %9.2f %13.0f %13.0f %10.1f %8d %12.2f\n", f, n, w, c,
                (w > 0 ? n / w : 0), (c > 0 ? n / c : 0), r / 1024, h, (h > 0 ? (r - b) / h : 0)
        }'
done
log "bench-analyzer: peak of an empty run $((BASE_RSS / 1024)) MiB (subtracted per host)"
