#!/bin/sh
# bench.sh - the flowsentry benchmark, start to finish, in under ten minutes.
#
#  1. fs-benchdecode: decode rate of v5, v9 and IPFIX on one core from
#     in-memory datagrams, and the msgpack encode/decode rate of flow batches;
#     with BENCH_ICOUNT=yes also the instructions the collector and the
#     subscriber spend per flow, counted by valgrind, which unlike the rates
#     does not move with whatever else runs on the machine.
#  2. For each format, the highest rate at which flowsentry-collector ingests
#     UDP over loopback without losing a flow: fs-flowsend offers the stream,
#     the collector publishes on an ipc:// flows bus, fs-flowsub counts what
#     arrives (--count-only: it reads each batch's envelope and flow count;
#     decoding every flow would make the counter, not the collector, the
#     limit on two CPUs); lossless means every flow sent was received on the
#     bus.
#  3. The same search, with the very same datagram stream (same generator,
#     seed and datagrams), for nfdump's nfcapd (flows counted with nfdump -I)
#     and pmacct's nfacctd (print plugin, flows counted in its CSV), when they
#     are installed; then the ratios.
#  4. The verdict on issue 2's target, per format.
#  5. As root: each receiver alone, the sender out of the way: the stream is
#     queued in a stopped receiver's socket, which is then timed while it
#     empties it.
#
# The search: one attempt at the sender's full speed (an attempt: a trial,
# run once more when it loses under 2%); if nothing is lost, the
# result is that rate (bounded by the sender, marked ">="); otherwise a
# bisection of attempts between a guess from what got through and the full
# speed. Then the verdict on issue 2's target: lossless at 2x the better
# peer, or, where the sender cannot offer that beside flowsentry, at the
# sender's full speed.
# Trials wait for the machine to be otherwise idle (a minute at most in all).
# Every receiver gets the same socket receive buffer (BENCH_RCVBUF; as root
# 32 MiB, net.core.rmem_max being raised for the run, else rmem_max, which
# is all nfcapd and nfacctd can ask for).
#
# Traffic stays on 127.0.0.1 and ipc:// sockets under a temporary directory.
# Every process started here is stopped by its pid.
#
# Settings (environment):
#   BENCH_BUILD    build directory (default build-bench; built if needed)
#   BENCH_NO_BUILD "yes": use the binaries already in BENCH_BUILD as they are
#   BENCH_FORMATS  formats to search (default "v5 v9 ipfix")
#   BENCH_TARGETS  receivers (default "flowsentry nfcapd nfacctd")
#   BENCH_TRIAL    seconds of traffic per trial (default 2)
#   BENCH_STEPS    bisection steps per search (default 5)
#   BENCH_RCVBUF   receive buffer for every receiver, bytes (default 32 MiB as
#                  root, else rmem_max)
#   BENCH_BATCH    collector --batch-size (default: the collector's)
#   BENCH_DECODE   "no" skips step 1
#   BENCH_SEARCH   "no" skips steps 2 to 4
#   BENCH_ICOUNT   "yes": also count the instructions the collector and the
#                  subscriber spend per flow (valgrind; a minute or two)
#   BENCH_ICOUNT_FLOWS  flows per format for that count (default 300000)
#   BENCH_EXTRA    more flowsentry-collector options, e.g. "--clock-clamp 60"
#   BENCH_DRAIN    "no" skips step 5 (each receiver alone; needs root)
#   BENCH_DRAIN_FLOWS  flows per drain run (default 2000000)
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
BUILD=${BENCH_BUILD:-build-bench}
FORMATS=${BENCH_FORMATS:-v5 v9 ipfix}
TARGETS=${BENCH_TARGETS:-flowsentry nfcapd nfacctd}
TRIAL=${BENCH_TRIAL:-2}
STEPS=${BENCH_STEPS:-5}
DRAIN_BUF=268435456
BATCH=${BENCH_BATCH:-}
FLOWS_IC=${BENCH_ICOUNT_FLOWS:-300000}
EXTRA=${BENCH_EXTRA:-}
SEED=1
IPV6=10

WORK=$(mktemp -d /tmp/fs-bench.XXXXXX) || exit 1
PIDS=""
DRAIN=""

# Receive buffers: nfcapd and nfacctd cannot ask for more than
# net.core.rmem_max, so as root it is raised for the run (and put back at
# exit) and every receiver gets 32 MiB, what an operator gives a collector
# at these rates; otherwise every receiver gets rmem_max.
RMEM_SAVED=""
if [ "$(id -u)" = 0 ] && RMEM_SAVED=$(cat /proc/sys/net/core/rmem_max 2>/dev/null) &&
    echo $DRAIN_BUF >/proc/sys/net/core/rmem_max 2>/dev/null; then
    RCVBUF=${BENCH_RCVBUF:-33554432}
else
    RMEM_SAVED=""
    RCVBUF=${BENCH_RCVBUF:-$(cat /proc/sys/net/core/rmem_max 2>/dev/null || echo 4194304)}
fi
PORT=$((20000 + $$ % 20000))

log() { printf '%s\n' "$*" >&2; }

# Starts a command in the background and remembers its pid in LASTPID.
spawn() {
    "$@" &
    LASTPID=$!
    PIDS="$PIDS $LASTPID"
}

# Stops one pid with a signal, SIGKILL after 5 s, and reaps it.
reap() {
    pid=$1
    kill -s "$2" "$pid" 2>/dev/null
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -s KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    PIDS=$(echo " $PIDS " | sed "s/ $pid / /; s/^ *//; s/ *$//")
}

cleanup() {
    for p in $PIDS; do
        kill -s CONT "$p" 2>/dev/null
        reap "$p" TERM
    done
    [ -z "$RMEM_SAVED" ] || echo "$RMEM_SAVED" >/proc/sys/net/core/rmem_max
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Waits up to 5 s for a line containing $2 in file $1.
wait_for() {
    i=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        [ $i -ge 50 ] && return 1
        sleep 0.1
        i=$((i + 1))
    done
}

# kv KEY FILE: the value of KEY=VALUE on fs-flowsend / fs-flowsub output.
kv() {
    awk -v k="$1" '{ for (i = 1; i <= NF; i++) { n = index($i, "="); if (substr($i, 1, n - 1) == k) v = substr($i, n + 1) } } END { print v + 0 }' "$2"
}

mps() { awk -v r="$1" 'BEGIN { printf "%.2f", r / 1e6 }'; }

# Percentage of all CPUs busy during $1 seconds: anything not ours running
# beside the benchmark makes its figures worthless.
busy() {
    a=$(head -1 /proc/stat)
    sleep "$1"
    b=$(head -1 /proc/stat)
    echo "$a $b" | awk '{ for (i = 2; i <= 11; i++) { d = $(i + 11) - $i; t += d; if (i == 5 || i == 6) idle += d } printf "%.0f", t ? 100 * (t - idle) / t : 0 }'
}

check_quiet() {
    b=$(busy 1)
    echo "background CPU use $1: $b%"
    [ "$b" -le 10 ] || echo "WARNING: the machine is busy with other work; figures below understate every receiver"
}

# --- 0. build ---------------------------------------------------------------
if [ "${BENCH_NO_BUILD:-no}" = yes ]; then
    :
elif ! cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$WORK/cmake.log" 2>&1 ||
    ! cmake --build "$BUILD" -j"$(nproc)" >>"$WORK/cmake.log" 2>&1; then
    cat "$WORK/cmake.log" >&2
    log "bench: build failed"
    exit 1
fi
case $BUILD in
/*) BIN=$BUILD ;;
*) BIN=$ROOT/$BUILD ;;
esac
COLLECTOR=$BIN/flowsentry-collector
FLOWSEND=$BIN/fs-flowsend
FLOWSUB=$BIN/fs-flowsub

echo "flowsentry benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(uname -sr)"
echo

# --- 1. decode on one core --------------------------------------------------
if [ "${BENCH_DECODE:-yes}" != no ]; then
    echo "== decode, one core, in-memory datagrams (best of 3 one-second runs)"
    "$BIN/fs-benchdecode" --cpu 0 || log "bench: fs-benchdecode reported a failure"
    echo
fi

# --- 1b. instructions per flow ----------------------------------------------
# Wall-clock rates on a shared two-CPU machine move with whatever else runs;
# instruction counts do not. The collector runs under valgrind (callgrind),
# is stopped while the whole stream is queued in its socket (64 MiB, which
# needs root to exceed rmem_max), then resumed, so that it drains full
# receive batches as it does at high rates. A one-datagram run gives what
# starting and stopping cost; the difference over the flows is per flow.
# User space only (the kernel's receive and send paths are not counted), and
# valgrind counts each iteration of a string instruction (rep stos, rep movs:
# memset, memcpy) as one instruction.

# icount FORMAT FLOWS: sets IR_COL and IR_SUB (instructions in all) and
# IR_GOT (flows the subscriber received).
icount() {
    fmt=$1 n=$2
    PORT=$((PORT + 1))
    d=$WORK/icount-$fmt-$n
    mkdir -p "$d"
    spawn valgrind --tool=callgrind --callgrind-out-file="$d/col.cg" "$COLLECTOR" \
        --listen "udp://127.0.0.1:$PORT" --publish "ipc://$d/flows" --rcvbuf 67108864 \
        --template-file none --stats-interval 0 --run-dir "$d" --state-dir "$d" 2>"$d/collector.log"
    cpid=$LASTPID
    i=0
    while ! grep -q "publishing flows" "$d/collector.log" 2>/dev/null && [ $i -lt 300 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    spawn valgrind --tool=callgrind --callgrind-out-file="$d/sub.cg" "$FLOWSUB" --count-only \
        --idle 5 --timeout 600 --quiet "ipc://$d/flows" >"$d/sub.out" 2>"$d/sub.err"
    spid=$LASTPID
    sleep 3 # valgrind starts slowly: the subscription must be in place
    kill -s STOP "$cpid"
    "$FLOWSEND" --format "$fmt" --flows "$n" --seed $SEED --ipv6-percent $IPV6 \
        "127.0.0.1:$PORT" >"$d/send.out" 2>"$d/send.err"
    kill -s CONT "$cpid"
    wait "$spid"
    PIDS=$(echo " $PIDS " | sed "s/ $spid / /")
    reap "$cpid" TERM
    IR_COL=$(sed -n 's/^summary: //p' "$d/col.cg")
    IR_SUB=$(sed -n 's/^summary: //p' "$d/sub.cg")
    IR_GOT=$(kv flows "$d/sub.out")
}

if [ "${BENCH_ICOUNT:-no}" = yes ]; then
    echo "== instructions per flow, user space (valgrind callgrind; $FLOWS_IC flows per format)"
    if ! command -v valgrind >/dev/null 2>&1; then
        log "bench: valgrind is not installed: instruction counts skipped"
    else
        for fmt in $FORMATS; do
            icount "$fmt" 1
            base_col=${IR_COL:-0} base_sub=${IR_SUB:-0} base_got=$IR_GOT
            icount "$fmt" "$FLOWS_IC"
            if [ -z "$IR_COL" ] || [ -z "$IR_SUB" ] || [ "$IR_GOT" -le "$base_got" ]; then
                log "bench: $fmt: instruction count failed"
                continue
            fi
            awk -v f="$fmt" -v c="$IR_COL" -v bc="$base_col" -v s="$IR_SUB" -v bs="$base_sub" \
                -v n="$IR_GOT" -v bn="$base_got" -v want="$FLOWS_IC" 'BEGIN {
                printf "%-6s collector %6.0f  subscriber (--count-only) %5.1f instructions/flow%s\n",
                    f, (c - bc) / (n - bn), (s - bs) / (n - bn),
                    n < want ? sprintf("  (only %d of %d flows arrived)", n, want) : "" }'
        done
    fi
    echo
fi

# --- 2. one trial -------------------------------------------------------------
# send FORMAT RATE DIR: the stream, to 127.0.0.1:$PORT; sets SENT and SENT_RATE.
# In drain mode (DRAIN_PID set) the receiver is stopped: DRAIN_FLOWS go into
# its socket, then fs-flowsend resumes it and times how long it takes to
# empty the socket; SENT_RATE is then that rate.
send() {
    if [ -n "$DRAIN_PID" ]; then
        kill -s STOP "$DRAIN_PID"
        "$FLOWSEND" --format "$1" --flows "$DRAIN_FLOWS" --resume "$DRAIN_PID" --seed $SEED \
            --ipv6-percent $IPV6 "127.0.0.1:$PORT" >"$3/send.out" 2>"$3/send.err"
        SENT_RATE=$(kv drain_rate "$3/send.out")
        [ "$(kv receiver_drops "$3/send.out")" -eq 0 ] ||
            NOTE="${NOTE:+$NOTE; }the socket overflowed while stopped: figure void"
    else
        "$FLOWSEND" --format "$1" --rate "$2" --seconds "$TRIAL" --seed $SEED \
            --ipv6-percent $IPV6 "127.0.0.1:$PORT" >"$3/send.out" 2>"$3/send.err"
        SENT_RATE=$(kv rate "$3/send.out")
    fi
    SENT=$(kv flows "$3/send.out")
}

# trial TARGET FORMAT RATE: offers TRIAL seconds at RATE flows/s (0: full
# speed) and sets SENT, SENT_RATE and RECEIVED.
trial() {
    target=$1 fmt=$2 rate=$3
    wait_quiet
    PORT=$((PORT + 1))
    d=$WORK/$target-$fmt-$PORT
    mkdir -p "$d"
    SENT=0 SENT_RATE=0 RECEIVED=-1 NOTE="" DRAIN_PID=""
    case $target in
    flowsentry)
        spawn "$COLLECTOR" --listen "udp://127.0.0.1:$PORT" --publish "ipc://$d/flows" \
            --rcvbuf "$RCVBUF" ${BATCH:+--batch-size "$BATCH"} --template-file none \
            --stats-interval 0 --run-dir "$d" --state-dir "$d" $EXTRA 2>"$d/collector.log" # EXTRA: split on purpose
        cpid=$LASTPID
        wait_for "$d/collector.log" "publishing flows" || { log "bench: collector did not start"; cat "$d/collector.log" >&2; }
        [ -z "$DRAIN" ] || DRAIN_PID=$cpid
        spawn "$FLOWSUB" --count-only --idle 1 --timeout $((TRIAL + 15)) --quiet "ipc://$d/flows" >"$d/sub.out"
        spid=$LASTPID
        sleep 0.5 # the subscription must be in place before the first batch
        send "$fmt" "$rate" "$d"
        wait "$spid"
        PIDS=$(echo " $PIDS " | sed "s/ $spid / /")
        reap "$cpid" TERM
        RECEIVED=$(kv flows "$d/sub.out")
        total=$(grep ' total:' "$d/collector.log" | tail -1 | tr ' ' '\n')
        drops=$(echo "$total" | sed -n 's/^kernel_drops=//p')
        published=$(echo "$total" | sed -n 's/^bus_flows=//p')
        NOTE="${NOTE:+$NOTE; }collector: ${drops:-0} datagrams dropped by the kernel, $((${published:-0} - RECEIVED)) flows lost on the bus"
        ;;
    nfcapd)
        mkdir -p "$d/flows"
        spawn nfcapd -C none -w "$d/flows" -b 127.0.0.1 -p "$PORT" -B "$RCVBUF" -t 3600 \
            >"$d/nfcapd.log" 2>&1
        cpid=$LASTPID
        wait_for "$d/nfcapd.log" "Startup" || log "bench: nfcapd did not start"
        [ -z "$DRAIN" ] || DRAIN_PID=$cpid
        send "$fmt" "$rate" "$d"
        sleep 1 # let it drain its socket
        reap "$cpid" TERM
        RECEIVED=$(nfdump -R "$d/flows" -I 2>/dev/null | awk '$1 == "Flows:" { print $2 }')
        ;;
    nfacctd)
        cat >"$d/nfacctd.conf" <<EOF
daemonize: false
logfile: $d/nfacctd.log
nfacctd_ip: 127.0.0.1
nfacctd_port: $PORT
nfacctd_pipe_size: $RCVBUF
plugin_pipe_size: 268435456
plugin_buffer_size: 10240
plugins: print[p]
aggregate[p]: proto, flows
print_output[p]: csv
print_output_file[p]: $d/flows.csv
print_refresh_time[p]: 3600
EOF
        spawn nfacctd -f "$d/nfacctd.conf"
        cpid=$LASTPID
        wait_for "$d/nfacctd.log" "waiting for NetFlow" || log "bench: nfacctd did not start"
        sleep 0.5 # the print plugin starts after the core
        [ -z "$DRAIN" ] || DRAIN_PID=$cpid # the core, which reads the socket
        send "$fmt" "$rate" "$d"
        sleep 1
        # nfacctd writes its cache on SIGINT (SIGTERM leaves it waiting)
        reap "$cpid" INT
        RECEIVED=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "FLOWS") c = i; next } c { n += $c } END { print n + 0 }' "$d/flows.csv" 2>/dev/null)
        ;;
    esac
    [ -n "$RECEIVED" ] || RECEIVED=0
    if [ "$RECEIVED" -eq "$SENT" ]; then verdict=lossless; else verdict="lost $((SENT - RECEIVED))"; fi
    if [ -n "$DRAIN" ]; then how="emptied its socket at"; else how=offered; fi
    log "  $target $fmt: $how $(mps "$SENT_RATE") M/s ($SENT flows), received $RECEIVED: $verdict${NOTE:+ ($NOTE)}"
    [ "$RECEIVED" -eq "$SENT" ]
}

# Before a trial, waits for the machine to be idle (other work running
# beside a trial only ever costs the receiver flows), at most WAIT_BUDGET
# seconds over the whole run so that the run stays bounded.
WAIT_BUDGET=60
wait_quiet() {
    while [ "$(busy 0.5)" -gt 10 ]; do
        if [ "$WAIT_BUDGET" -le 0 ]; then
            log "  (machine busy with other work; going on anyway)"
            return
        fi
        sleep 2
        WAIT_BUDGET=$((WAIT_BUDGET - 2))
    done
}

# attempt TARGET FORMAT RATE: a trial, run again once when it loses a few
# flows (at most 2%). Anything else waking up on a 2-CPU box costs the
# receiver flows, and outside interference only ever loses flows, so one
# clean run out of two stands; a receiver that cannot keep up loses both.
attempt() {
    trial "$@" && return 0
    [ $((RECEIVED * 50)) -ge $((SENT * 49)) ] || return 1
    trial "$@"
}

# --- 3. the search ----------------------------------------------------------
# search TARGET FORMAT: sets BEST (flows/s, lossless), BOUND (">=" when the
# sender was the limit) and MAX (the sender's full speed in that run).
search() {
    target=$1 fmt=$2
    BOUND=""
    if attempt "$target" "$fmt" 0; then
        BEST=$SENT_RATE MAX=$SENT_RATE BOUND=">="
        return
    fi
    MAX=$SENT_RATE
    hi=$SENT_RATE lo=0 BEST=0
    # First guess: a little under what got through at full speed.
    guess=$(awk -v r="$RECEIVED" -v t="$TRIAL" -v h="$hi" 'BEGIN { g = 0.9 * r / t; if (g > 0.9 * h) g = 0.9 * h; if (g < h / 50) g = h / 50; printf "%.0f", g }')
    if attempt "$target" "$fmt" "$guess"; then lo=$guess BEST=$SENT_RATE; else hi=$guess; fi
    # lo and hi are rates asked for; BEST is the best rate a lossless trial
    # reached (near the top the sender may fall a little short of asked)
    s=1
    while [ $s -lt "$STEPS" ]; do
        mid=$(awk -v a="$lo" -v b="$hi" 'BEGIN { printf "%.0f", (a + b) / 2 }')
        if attempt "$target" "$fmt" "$mid"; then
            lo=$mid
            BEST=$(awk -v a="$BEST" -v b="$SENT_RATE" 'BEGIN { print (b > a) ? b : a }')
        else
            hi=$mid
        fi
        s=$((s + 1))
    done
}

have() {
    case $1 in
    flowsentry) [ -x "$COLLECTOR" ] ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
    esac
}

: >"$WORK/results"
if [ "${BENCH_SEARCH:-yes}" != no ]; then
check_quiet "before the loopback runs"
echo "== lossless UDP ingest over loopback ($TRIAL s trials, receive buffer $RCVBUF bytes," \
    "same stream for every receiver: seed $SEED, $IPV6% IPv6 in v9/IPFIX)"
for fmt in $FORMATS; do
    for target in $TARGETS; do
        if ! have "$target"; then
            log "bench: $target is not installed: skipped"
            continue
        fi
        search "$target" "$fmt"
        echo "$fmt $target $BEST $MAX $BOUND" >>"$WORK/results"
    done
done
echo

# --- 4. the table -----------------------------------------------------------
# The target (issue 2): flowsentry lossless at 2x the better peer or more;
# where the sender cannot offer that much beside flowsentry, lossless at the
# sender's full speed.
awk -v targets="$TARGETS" -v formats="$FORMATS" '
{ best[$1, $2] = $3; max[$1, $2] = $4; bound[$1, $2] = $5; seen[$2] = 1 }
END {
    nt = split(targets, t, " "); nf = split(formats, f, " ")
    printf "%-7s", "format"
    for (j = 1; j <= nt; j++) if (seen[t[j]]) printf " %18s", t[j] " M/s"
    printf " %12s %22s\n", "sender max", "flowsentry/best other"
    for (i = 1; i <= nf; i++) {
        printf "%-7s", f[i]; m = 0; other = 0
        for (j = 1; j <= nt; j++) {
            if (!seen[t[j]]) continue
            k = f[i] SUBSEP t[j]
            printf " %18s", sprintf("%s%.2f", bound[k], best[k] / 1e6)
            if (max[k] > m) m = max[k]
            if (t[j] != "flowsentry" && best[k] > other) other = best[k]
        }
        k = f[i] SUBSEP "flowsentry"
        ratio = (other > 0 && (k in best)) ? sprintf("%s%.2fx", bound[k], best[k] / other) : "-"
        printf " %12.2f %22s\n", m / 1e6, ratio
        if (other > 0 && (k in best)) {
            if (best[k] >= 2 * other)
                v = sprintf("met: lossless at %.2f M/s, %.2fx the better peer", best[k] / 1e6, best[k] / other)
            else if (bound[k] == ">=" && max[k] < 2 * other)
                v = sprintf("met: lossless at the sender'"'"'s full speed beside it (%.2f M/s); 2x the better peer would be %.2f", max[k] / 1e6, 2 * other / 1e6)
            else
                v = sprintf("NOT met: lossless up to %.2f M/s, 2x the better peer is %.2f", best[k] / 1e6, 2 * other / 1e6)
            verdict[i] = v
        }
    }
    for (i = 1; i <= nf; i++)
        if (verdict[i] != "") printf "target %-6s %s\n", f[i] ":", verdict[i]
}' "$WORK/results"
check_quiet "after the loopback runs"
echo
echo "('>=': no loss even at the sender's full speed, so the sender was the limit;"
echo " sender max: the fastest the sender went in these runs, with that receiver beside it)"
fi

# --- 5. each receiver alone: draining a full socket ----------------------------
# The sender shares the two CPUs with every receiver above, and is the limit
# of the fastest. Here it is out of the way: the receiver is stopped, the
# stream (DRAIN_FLOWS flows) queues up in a socket buffer big enough for all
# of it, then the receiver is resumed and timed until its socket is empty.
# This is each receiver's own top rate, bursts and wake-ups aside, not a
# lossless live rate: nfacctd, for one, empties its socket fast but loses
# flows inside (its plugin pipe), which the count shows. The buffer needs
# net.core.rmem_max raised (root), which is put back at exit.
DRAIN_FLOWS=${BENCH_DRAIN_FLOWS:-2000000}
if [ "${BENCH_DRAIN:-yes}" = no ]; then
    :
elif [ -z "$RMEM_SAVED" ]; then
    log "bench: not root: the drain runs (step 5) need net.core.rmem_max raised; skipped"
else
    DRAIN=yes RCVBUF=$DRAIN_BUF
    echo
    echo "== each receiver alone: $DRAIN_FLOWS flows queued in a stopped receiver's socket" \
        "($DRAIN_BUF-byte buffer), then timed until the socket is empty (best of 3)"
    printf "%-7s" "format"
    for target in $TARGETS; do have "$target" && printf " %24s" "$target M/s"; done
    echo
    for fmt in $FORMATS; do
        printf "%-7s" "$fmt"
        for target in $TARGETS; do
            have "$target" || continue
            best=0 cell=""
            for run in 1 2 3; do
                WAIT_BUDGET=20
                trial "$target" "$fmt" 0
                if awk -v a="$SENT_RATE" -v b="$best" 'BEGIN { exit !(a > b) }'; then
                    best=$SENT_RATE cell=$(mps "$SENT_RATE")
                    [ "$RECEIVED" -eq "$SENT" ] || cell="$cell (lost $((SENT - RECEIVED)))"
                fi
            done
            printf " %24s" "$cell"
        done
        echo
    done
    echo "(lost N: the receiver emptied its socket at that rate but lost N flows on the way)"
fi
