#!/bin/sh
# The main job, end to end, on this machine over loopback: builds flowsentry,
# generates a week of a labelled office network with injected attacks
# (fs-netgen), starts a local rsyslogd, the collector, the analyzer and the
# reporter, sends the flows to the collector as NetFlow v9 and IPFIX
# datagrams from four fake exporters (fs-replay; the learning days go
# through in seconds, in event time), stops the analyzer so that it closes
# its last windows, waits for the reporter to deliver, and prints the
# reports' paths, the alerts rsyslog received and how they compare with the
# injected attacks.
#
#   tools/demo.sh            everything goes to $FS_DEMO_DIR (default /tmp/flowsentry-demo)
#
# Set FS_DEMO_BUILD=DIR to use an existing build instead of building.
set -eu
cd "$(dirname "$0")/.."
src=$(pwd)
demo=${FS_DEMO_DIR:-/tmp/flowsentry-demo}
rate=200000
t_start=$(date +%s)

say() { printf '%s\n' "$*"; }
step() { printf '%s\n' "$*"; }
detail() { printf '      %s\n' "$*"; }
fail() {
    printf 'demo: %s\n' "$*" >&2
    [ ! -d "$demo/logs" ] || printf 'demo: logs are in %s/logs/\n' "$demo" >&2
    exit 1
}

# A loopback port that was free a moment ago.
free_port() {
    python3 -c 'import socket,sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if sys.argv[1] == "tcp" else socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "$1"
}

accepts() {
    python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5)' \
        "$1" 2>/dev/null
}

# Every process started here is stopped by its pid when the script ends,
# however it ends: SIGTERM, then SIGKILL after 5 s.
pids=""
cleanup() {
    for p in $pids; do
        kill "$p" 2>/dev/null || continue
        i=0
        while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$p" 2>/dev/null || true
    done
    pids=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME PROGRAM ARGS...: runs it in the background, output to logs/NAME.log;
# its pid is in $! afterwards.
start() {
    name=$1
    shift
    "$@" >"$demo/logs/$name.log" 2>&1 &
    pids="$! $pids" # stopped in reverse order: rsyslogd last
}

alive() { kill -0 "$1" 2>/dev/null; }

# The value of KEY=N in the last line of FILE that contains PATTERN (0 if none).
counter() {
    v=$(grep -F "$2" "$1" 2>/dev/null | tail -n 1 | sed -n "s/^/ /; s/.*[ :]$3=\([0-9]*\).*/\1/p")
    echo "${v:-0}"
}

# --- 1. packages and build --------------------------------------------------
say "flowsentry demo: the whole pipeline over loopback, in $demo"
if [ -n "${FS_DEMO_BUILD:-}" ]; then
    bin=$FS_DEMO_BUILD
    step " 1. build: using $bin"
else
    step " 1. packages and build (tools/deps.sh, tools/build.sh release)"
    tools/deps.sh
    bin=$(tools/build.sh release)
    detail "binaries in $bin/"
fi
case "$bin" in /*) ;; *) bin="$src/$bin" ;; esac
for p in fs-netgen fs-replay flowsentry-collector flowsentry-analyzer flowsentry-reporter; do
    [ -x "$bin/$p" ] || fail "$bin/$p is missing"
done

# Only a directory an earlier run made is emptied: FS_DEMO_DIR may point anywhere.
if [ -e "$demo" ] && [ ! -d "$demo/logs" ] && [ -n "$(ls -A "$demo" 2>/dev/null)" ]; then
    fail "$demo exists and was not made by the demo: remove it or set FS_DEMO_DIR"
fi
[ ${#demo} -le 90 ] || fail "FS_DEMO_DIR is too long for ipc:// endpoints (90 characters at most)"
rm -rf "$demo"
mkdir -p "$demo/logs" "$demo/run" "$demo/rsyslog" "$demo/reports"

# --- 2. traffic ---------------------------------------------------------------
step " 2. traffic: 7 days of a 100-host office network; days 1-4 clean (learning),"
detail "attacks and benign look-alikes from day 5 (fs-netgen -> net/)"
"$bin/fs-netgen" --out "$demo/net" --days 7 --learn-days 4 --hosts 100 \
    >"$demo/logs/netgen.log" 2>&1 || fail "fs-netgen failed"
nflows=$(counter "$demo/logs/netgen.log" "flows=" flows)
nattacks=$(jq -s '[.[] | select(.kind == "attack" and (.optional | not))] | length' \
    "$demo/net/labels.json")
detail "$nflows flows, $nattacks attacks injected (net/labels.json)"

# --- 3. processes ---------------------------------------------------------------
syslog_port=$(free_port tcp)
flow_port=$(free_port udp)
cat >"$demo/rsyslog/rsyslog.conf" <<EOF
# Only the TCP input on loopback (no imuxsock, no imklog: the system's log is
# left alone); what the reporter sends goes to syslog.log as RFC 5424 lines,
# rsyslogd's own messages to rsyslog/internal.log.
global(workDirectory="$demo/rsyslog")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="$syslog_port" ruleset="flowsentry")
ruleset(name="flowsentry") {
    action(type="omfile" file="$demo/syslog.log" template="RSYSLOG_SyslogProtocol23Format")
}
*.* action(type="omfile" file="$demo/rsyslog/internal.log")
EOF
step " 3. starting rsyslogd (127.0.0.1:$syslog_port/tcp -> syslog.log), collector"
detail "(127.0.0.1:$flow_port/udp), analyzer and reporter; logs in logs/"
start rsyslogd /usr/sbin/rsyslogd -n -f "$demo/rsyslog/rsyslog.conf" -i "$demo/rsyslog/rsyslogd.pid"
pid_rsyslogd=$!

flows_bus="ipc://$demo/run/flows"
events_bus="ipc://$demo/run/events"
replay_ep="ipc://$demo/run/replay"
start collector "$bin/flowsentry-collector" --listen "udp://127.0.0.1:$flow_port" \
    --publish "$flows_bus" --template-file none --stats-interval 0
pid_collector=$!
# The generated network learns for 4 days, so the analyzer warms up for 4.
start analyzer "$bin/flowsentry-analyzer" -c "$demo/net/analyzer.conf" --warmup 4d \
    --subscribe "$flows_bus" --publish "$events_bus" --journal "$demo/journal" \
    --replay "$replay_ep" --finish-at-exit --stats-interval 0
pid_analyzer=$!
start reporter "$bin/flowsentry-reporter" --subscribe "$events_bus" --replay "$replay_ep" \
    --state-dir "$demo/reporter" --report-dir "$demo/reports" \
    --output "tcp://127.0.0.1:$syslog_port header=rfc5424 body=text" \
    --output "file://$demo/alerts.eve.json header=none body=eve" --stats-interval 0
pid_reporter=$!

# Ready when each has said so in its log (or rsyslogd accepts connections).
i=0
until grep -q "listening on" "$demo/logs/collector.log" 2>/dev/null &&
      grep -q "listening for flows" "$demo/logs/analyzer.log" 2>/dev/null &&
      accepts "$syslog_port"; do
    for np in "rsyslogd $pid_rsyslogd" "collector $pid_collector" \
              "analyzer $pid_analyzer" "reporter $pid_reporter"; do
        alive "${np#* }" || fail "${np% *} exited at start (logs/${np% *}.log)"
    done
    i=$((i + 1))
    [ $i -lt 100 ] || fail "the processes did not come up within 10 s"
    sleep 0.1
done
# The subscribers need a moment to connect before the first flows are published.
sleep 1

# --- 4. replay ----------------------------------------------------------------
step " 4. replaying the 7 days as NetFlow v9 + IPFIX from 4 exporters, $rate flows/s"
"$bin/fs-replay" --to "127.0.0.1:$flow_port" --read "$demo/net/flows.json" \
    --format mixed --exporters 4 --rate "$rate" >"$demo/logs/replay.log" 2>&1 ||
    fail "fs-replay failed (logs/replay.log)"
sent=$(counter "$demo/logs/replay.log" "flows=" flows)
detail "sent $sent flows in $(counter "$demo/logs/replay.log" "flows=" datagrams) datagrams" \
    "($(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' "$demo/logs/replay.log") s)"

# Until the analyzer has seen them all: it logs its counters on SIGUSR1.
last=-1
still=0
while :; do
    kill -USR1 "$pid_analyzer" 2>/dev/null || fail "the analyzer stopped (logs/analyzer.log)"
    sleep 0.5
    got=$(counter "$demo/logs/analyzer.log" "counters:" flows)
    [ "$got" -ge "$sent" ] && break
    if [ "$got" = "$last" ]; then
        still=$((still + 1))
        [ $still -lt 10 ] || break
    else
        still=0
    fi
    last=$got
done
kill -USR1 "$pid_collector"
sleep 0.3
received=$(counter "$demo/logs/collector.log" "total:" flows)
detail "collector decoded $received flows, analyzer took in $got"
[ "$got" -ge "$sent" ] || say "      (some flows were lost on the way: see logs/collector.log, logs/analyzer.log)"

# --- 5. last windows, delivery --------------------------------------------------
step " 5. stopping the analyzer: it closes its last windows and sends their findings"
kill "$pid_analyzer"
i=0
while alive "$pid_analyzer"; do
    i=$((i + 1))
    [ $i -lt 300 ] || fail "the analyzer did not stop within 30 s"
    sleep 0.1
done
anomalies=$(counter "$demo/logs/analyzer.log" "counters:" anomalies)
# Every anomaly and summary is a journal message the reporter must take in.
events=$((anomalies + $(counter "$demo/logs/analyzer.log" "counters:" summaries)))
detail "analyzer: $anomalies anomalies, $events messages for the reporter in all"
# Done when the reporter has taken in every journal message and rsyslog has
# confirmed every alert (a TCP send counts once the connection stayed up 2 s).
i=0
while :; do
    kill -USR1 "$pid_reporter" 2>/dev/null || fail "the reporter stopped (logs/reporter.log)"
    sleep 0.5
    done_in=$(counter "$demo/logs/reporter.log" "intake:" processed)
    spooled=$(counter "$demo/logs/reporter.log" "output 1 (" spooled)
    confirmed=$(counter "$demo/logs/reporter.log" "output 1 (" confirmed)
    [ "$done_in" -ge "$events" ] && [ "$confirmed" -ge "$spooled" ] && break
    i=$((i + 1))
    [ $i -lt 60 ] || { say "      (the reporter did not finish within 30 s: see logs/reporter.log)"; break; }
done
detail "reporter: $spooled alerts (from $anomalies anomalies), $confirmed confirmed by rsyslog"
cleanup

# --- results --------------------------------------------------------------------
alerts=$(grep -c -F 'flowsentry@32473' "$demo/syslog.log" 2>/dev/null || true)
alerts=${alerts:-0}
say ""
say "Reports (JSON, reports/):"
daily=$(find "$demo/reports" -name 'daily-*.json' | sort | tail -n 1)
hourly=$(find "$demo/reports" -name 'hourly-*.json' | sort | tail -n 1)
ndaily=$(find "$demo/reports" -name 'daily-*.json' | wc -l)
nhourly=$(find "$demo/reports" -name 'hourly-*.json' | wc -l)
say "  last daily:  ${daily:-none} ($ndaily daily reports)"
say "  last hourly: ${hourly:-none} ($nhourly period reports)"
say ""
say "Alerts rsyslog received ($demo/syslog.log): $alerts"
if [ "$alerts" -gt 0 ]; then
    printf '  %-11s  %-8s  %-16s  %-29s  %5s\n' "time (UTC)" severity class "host -> peer" score
    # The fields of each alert are the SD-PARAMs of its flowsentry@32473 element.
    # shellcheck disable=SC2016 # jq program
    grep -F 'flowsentry@32473' "$demo/syslog.log" | jq -R -r '
        def p($k): (capture(" \($k)=\"(?<v>(?:[^\"\\\\]|\\\\.)*)\"") | .v) // "";
        [p("ts"), p("severity"), p("class"), p("host"), p("peer"), p("score"), p("count"),
         p("kind")] | @tsv' |
    sort | awk -F '\t' 'NR <= 40 {
        t = substr($1, 6, 5) " " substr($1, 12, 5)
        hp = ($5 == "") ? $4 : $4 " -> " $5
        note = $8 == "folded" ? "  +" $7 " folded in" : $8 == "storm" ? "  storm: " $7 " held back" : ""
        printf "  %-11s  %-8s  %-16s  %-29s  %5.1f%s\n", t, $2, $3, hp, $6, note
    } END { if (NR > 40) printf "  ... and %d more\n", NR - 40 }'
fi
say ""
say "Found vs injected (tools/score-detections on alerts.eve.json and net/labels.json):"
if [ -s "$demo/alerts.eve.json" ]; then
    jq -c 'select(.anomaly.class) | .anomaly' "$demo/alerts.eve.json" >"$demo/alerts.jsonl"
    tools/score-detections "$demo/alerts.jsonl" "$demo/net/labels.json" |
        awk '/^$/ { exit } $1 == "class" || $1 == "all" || $2 > 0 || $5 > 0 { print "  " $0 }'
else
    say "  no alerts were written"
fi
say ""
say "Logs: $demo/logs/ (collector, analyzer, reporter, rsyslogd, replay, netgen)"
say "Done in $(($(date +%s) - t_start)) s."
