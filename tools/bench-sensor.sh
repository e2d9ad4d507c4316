#!/bin/sh
# bench-sensor.sh - offline metering speed of flowsentry-sensor on one core,
# next to softflowd and nfdump's nfpcapd on the very same capture.
#
#  1. fs-pcapgen (tools/pcapgen.c) writes a deterministic capture of
#     BENCH_PACKETS packets (default 10 million: 100 000 two-way
#     conversations over 100 s, 96-byte snap length, about 1 GB), which is
#     then read once so that every run finds it in the page cache.
#  2. Each meter reads it as fast as it goes, pinned to CPU BENCH_CPU with
#     taskset, timed by /usr/bin/time (wall, user and system time):
#       flowsentry  flowsentry-sensor --read FILE --export ipfix://SINK
#       softflowd   softflowd -r FILE -n SINK -v 10 -m 262144 -c none
#       nfpcapd     nfpcapd -r FILE -w DIR -e 1800,15
#     The sensor and softflowd export IPFIX to a UDP socket that never reads
#     (the datagrams are made and sent, then dropped by the kernel); nfpcapd
#     writes nfdump files, its only output. softflowd gets as many flow
#     entries as the sensor (its default, 8192, would expire flows early);
#     nfpcapd gets the sensor's timeouts. softflowd and nfpcapd are skipped
#     when not installed.
#  3. It prints a table: CPU time (user + system) and wall time of the
#     best of BENCH_TRIALS runs (least CPU), packets/s and flows/s per CPU
#     second and per wall second, and each peer's CPU time over the
#     sensor's. Flows are one-way records: the sensor's flows, softflowd's
#     exported records, the flows in nfpcapd's files (nfdump -I).
#
# The machine may be shared: CPU time is the figure to compare, wall time
# also counts waiting for the CPU. The load average is printed before and
# after.
#
# Settings (environment):
#   BENCH_BUILD    build directory (default build-bench; built if needed)
#   BENCH_NO_BUILD "yes": use the binaries already in BENCH_BUILD
#   BENCH_PACKETS  packets in the capture (default 10000000)
#   BENCH_FLOWS    fs-pcapgen --flows (default 100000)
#   BENCH_TRIALS   runs per meter (default 2)
#   BENCH_CPU      the CPU to pin to (default 0)
#   BENCH_LIMIT    seconds a run may take before it is killed (default 150)
#   BENCH_BUDGET   seconds for the whole script (default 540): trials after the
#                  first are skipped when they would not fit, and every run is
#                  killed when the budget is spent
#   BENCH_TOOLS    meters to run (default "flowsentry softflowd nfpcapd")
#   BENCH_KEEP     "yes": keep the capture and outputs (the directory is printed)
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${BENCH_BUILD:-build-bench}
PACKETS=${BENCH_PACKETS:-10000000}
FLOWS=${BENCH_FLOWS:-100000}
TRIALS=${BENCH_TRIALS:-2}
CPU=${BENCH_CPU:-0}
LIMIT=${BENCH_LIMIT:-150}
BUDGET=${BENCH_BUDGET:-540}
START=$(date +%s)
TOOLS=${BENCH_TOOLS:-flowsentry softflowd nfpcapd}

log() { printf '%s\n' "$*" >&2; }

for tool in /usr/bin/time taskset timeout; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        log "bench-sensor: $tool is needed (Debian packages time, util-linux, coreutils)"
        exit 2
    fi
done

WORK=$(mktemp -d /tmp/fs-bench-sensor.XXXXXX) || exit 1
SINK_PID=""
cleanup() {
    [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null
    if [ "${BENCH_KEEP:-no}" = yes ]; then
        log "bench-sensor: files kept in $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "${BENCH_NO_BUILD:-no}" = yes ]; then
    :
elif ! cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$WORK/cmake.log" 2>&1 ||
    ! cmake --build "$BUILD" -j"$(nproc)" --target fs-pcapgen flowsentry-sensor \
        >>"$WORK/cmake.log" 2>&1; then
    cat "$WORK/cmake.log" >&2
    exit 1
fi
case $BUILD in
/*) BIN=$BUILD ;;
*) BIN=$ROOT/$BUILD ;;
esac
PCAP=$WORK/bench.pcap

log "bench-sensor: load average before: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
log "bench-sensor: writing $PACKETS packets, $FLOWS conversations"
if ! "$BIN/fs-pcapgen" --packets "$PACKETS" --flows "$FLOWS" "$PCAP" >"$WORK/gen.out"; then
    exit 1
fi
log "bench-sensor: $(cat "$WORK/gen.out")"
cat "$PCAP" >/dev/null

# A UDP port that takes the exports and never reads them.
SINK_PORT=""
if command -v python3 >/dev/null 2>&1; then
    python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
time.sleep(3600)' >"$WORK/sink.port" &
    SINK_PID=$!
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        [ -s "$WORK/sink.port" ] && break
        sleep 0.2
    done
    SINK_PORT=$(cat "$WORK/sink.port")
fi
if [ -z "$SINK_PORT" ]; then
    # Nothing listens there: the kernel refuses some datagrams, which the
    # meters count and go on.
    SINK_PORT=9
    log "bench-sensor: no python3 for a sink; exporting to the discard port"
fi

# One run of a meter: "$@" under taskset and /usr/bin/time; prints
# "cpu wall" (seconds), or fails.
timed() {
    name=$1
    shift
    left=$((START + BUDGET - $(date +%s)))
    [ "$left" -lt "$LIMIT" ] && limit=$left || limit=$LIMIT
    if [ "$limit" -le 0 ] || ! timeout "$limit" /usr/bin/time -f '%U %S %e' -o "$WORK/$name.time" \
        taskset -c "$CPU" "$@" >"$WORK/$name.out" 2>&1; then
        log "bench-sensor: $name failed or took more than $limit s:"
        tail -5 "$WORK/$name.out" >&2
        return 1
    fi
    awk '{ printf "%.3f %.3f\n", $1 + $2, $3 }' "$WORK/$name.time"
}

# Flows (one-way records) a meter made, from what it wrote.
flows_of() {
    case $1 in
    flowsentry) sed -n 's/^packets .*, flows \([0-9]*\)$/\1/p' "$WORK/flowsentry.out" ;;
    softflowd) sed -n 's/^Flows exported: [0-9]* (\([0-9]*\) records).*/\1/p' "$WORK/softflowd.out" ;;
    nfpcapd) nfdump -R "$WORK/nfpcapd" -I 2>/dev/null | sed -n 's/^Flows: \([0-9]*\)$/\1/p' ;;
    esac
}

run_tool() {
    case $1 in
    flowsentry)
        timed flowsentry "$BIN/flowsentry-sensor" --read "$PCAP" \
            --export "ipfix://127.0.0.1:$SINK_PORT" --quiet ;;
    softflowd)
        timed softflowd softflowd -r "$PCAP" -n "127.0.0.1:$SINK_PORT" -v 10 -m 262144 \
            -c none -p "$WORK/softflowd.pid" ;;
    nfpcapd)
        rm -rf "$WORK/nfpcapd" && mkdir "$WORK/nfpcapd" &&
            timed nfpcapd nfpcapd -r "$PCAP" -w "$WORK/nfpcapd" -e 1800,15 ;;
    esac
}

RESULTS=$WORK/results
: >"$RESULTS"
for tool in $TOOLS; do
    case $tool in
    flowsentry) ;;
    softflowd | nfpcapd)
        if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
            log "bench-sensor: $tool is not installed: skipped"
            continue
        fi
        PATH=$PATH:/usr/sbin ;;
    *)
        log "bench-sensor: unknown meter $tool"
        exit 2 ;;
    esac
    best_cpu=""
    best_wall=""
    trial=1
    while [ "$trial" -le "$TRIALS" ]; do
        if [ -n "$best_wall" ] && awk -v w="$best_wall" -v now="$(date +%s)" \
            -v end="$((START + BUDGET))" 'BEGIN { exit !(now + w * 1.5 > end) }'; then
            log "bench-sensor: $tool: no time left for trial $trial (BENCH_BUDGET)"
            break
        fi
        if ! res=$(run_tool "$tool"); then
            [ "$tool" = flowsentry ] && exit 1
            break
        fi
        set -- $res
        log "bench-sensor: $tool trial $trial: cpu $1 s, wall $2 s"
        if [ -z "$best_cpu" ] || awk -v a="$1" -v b="$best_cpu" 'BEGIN { exit !(a < b) }'; then
            best_cpu=$1
            best_wall=$2
        fi
        trial=$((trial + 1))
    done
    [ -n "$best_cpu" ] && echo "$tool $best_cpu $best_wall $(flows_of "$tool")" >>"$RESULTS"
done
log "bench-sensor: load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

awk -v packets="$PACKETS" '
    NR == 1 { ref = $2 }
    {
        flows = ($4 == "" ? 0 : $4)
        printf "%-11s %8.2f %8.2f %12.0f %12.0f %9d %11.0f %11.0f %8s\n", $1, $2, $3,
            packets / $2, packets / $3, flows, flows / $2, flows / $3,
            (NR == 1 ? "1.00" : sprintf("%.2f", $2 / ref))
    }
    BEGIN {
        printf "%-11s %8s %8s %12s %12s %9s %11s %11s %8s\n", "meter", "cpu_s", "wall_s",
            "pkts/s_cpu", "pkts/s_wall", "flows", "flows/s_cpu", "flows/s_wall", "cpu_x"
    }' "$RESULTS"
