#!/usr/bin/env bash
# Outbound throughput: N queued 4 KB messages relayed to Postfix's smtp-sink over 10
# concurrent SMTP sessions, by mailroom, mailroom-lite and a private Postfix instance.
#
#   scripts/bench-outbound.sh [--messages N] [--runs R] [--concurrency C]
#                             [--servers "mailroom mailroom-lite postfix"] [--skip-build]
#
# What is measured is the drain of a full queue: the messages are queued first, then
# the sender is let go, and the clock runs until its queue is empty. Each message is a
# separate transaction (one recipient, bob@example.com) to the same relay, so all three
# send C sessions in parallel to one destination and reuse each session for the next
# message.
#
# - mailroom / mailroom-lite: a scratch data directory (`init`, domain sender.test)
#   with one LAN connection whose Out Mail relays to the sink, `[outbound]
#   per_destination = max_sessions = C`. The N spool entries (message + envelope) are
#   written while the server is stopped; the clock starts when `serve` is started and
#   stops when the last entry left the spool (each leaves after the sink's 250; the
#   spool directory is fsynced in groups). The server's log must show N "sent" lines.
# - Postfix: a private instance (`postfix -c DIR`, own queue; the system's Postfix is
#   untouched) with `relayhost = [127.0.0.1]:SINK` and a destination concurrency of C
#   from the start. The N messages are injected with smtp-source and put on hold; the
#   clock starts at `postsuper -H ALL` + `postqueue -f` and stops when the queue is
#   empty. Its log must show N `status=sent`. Needs root; skipped otherwise.
#
# All servers are set up once per run and measured round-robin (a noisy moment hits
# them alike); the median of the runs is printed. Scratch files go under
# ${TMPDIR:-/tmp} and are removed at the end (KEEP=1 keeps them).
set -euo pipefail

source "$(dirname "$0")/bench-lib.sh"
CONCURRENCY=10
SERVERS="mailroom mailroom-lite postfix"
bench_options "[--messages N] [--runs R] [--concurrency C] [--servers LIST]" "$@"

command -v smtp-sink >/dev/null 2>&1 || { echo "smtp-sink (Postfix) is needed" >&2; exit 1; }
build_release -p mailroom-smol -p mailroom-std --bins

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mailroom-bench-out.XXXXXX")
chmod 755 "$WORK"
SINK_PID=
SERVER_PID=
POSTFIX_CONF=
cleanup() {
    [[ -n $SERVER_PID ]] && kill -KILL "$SERVER_PID" 2>/dev/null || true
    [[ -n $SINK_PID ]] && kill -TERM "$SINK_PID" 2>/dev/null || true
    if [[ -n $POSTFIX_CONF ]]; then
        postfix -c "$POSTFIX_CONF" stop >/dev/null 2>&1 || true
    fi
    if [[ ${KEEP:-0} == 1 ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

now() { date +%s.%N; }

say "smtp-sink"
SINK_PORT=$(free_port)
sink_user=()
[[ $(id -u) -eq 0 ]] && sink_user=(-u nobody)
smtp-sink "${sink_user[@]}" "127.0.0.1:$SINK_PORT" 1000 >/dev/null 2>&1 &
SINK_PID=$!
wait_port "$SINK_PORT"
echo "listening on 127.0.0.1:$SINK_PORT"

# --- mailroom / mailroom-lite ------------------------------------------------------

# DIR N: write N queued 4 KB messages for bob@example.com into DIR's spool.
prefill() {
    python3 - "$1" "$2" <<'EOF'
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
q = os.path.join(d, "spool", "queue")
os.makedirs(q, exist_ok=True)
os.makedirs(os.path.join(d, "spool", "tmp"), exist_ok=True)
now = int(time.time())
for i in range(n):
    qid = f"{now}.M{i:06d}P1Qbench"
    head = (f"From: Alice <alice@sender.test>\r\nTo: Bob <bob@example.com>\r\n"
            f"Subject: bench {i}\r\nMessage-Id: <bench-{i}@sender.test>\r\n\r\n")
    body = b""
    line = ("x" * 70 + "\r\n").encode()
    while len(head) + len(body) + len(line) <= 4096:
        body += line
    msg = head.encode() + body
    msg += b"y" * (4096 - len(msg) - 2) + b"\r\n"
    with open(os.path.join(q, qid + ".eml"), "wb") as f:
        f.write(msg)
    with open(os.path.join(q, qid + ".env"), "w") as f:
        f.write(f'version = 1\nid = "{qid}"\nreceived_id = "BENCH.{i}"\narrival = {now}\n'
                f'sender = "alice@sender.test"\nhelo = "bench"\nclient_ip = "127.0.0.1"\n'
                f'eight_bit = false\n\n[[recipient]]\naddress = "bob@example.com"\n')
EOF
}

# DIR: configure a sender for sender.test relaying to the sink.
configure() {
    python3 - "$1/mailroom.toml" "$(free_port)" "$SINK_PORT" "$CONCURRENCY" <<'EOF'
import sys
path, smtp, sink, c = sys.argv[1:]
lines = open(path).read().splitlines()
out, section = [], ""
for l in lines:
    s = l.strip()
    if s.startswith("["):
        section = s
    key = s.split("=")[0].strip() if "=" in s else ""
    if section == "" and key == "default_domain":
        l = 'default_domain = "sender.test"'
    elif section == "" and key == "local_domains":
        l = 'local_domains = ["sender.test"]'
    elif section == "[services]" and key in ("smtp",):
        l = f'smtp = ["127.0.0.1:{smtp}"]'
    elif section == "[services]" and key in ("smtps", "pop3", "pop3s", "imap", "imaps", "http", "pass"):
        l = f"{key} = []"
    out.append(l)
out += ["", "[outbound]", f"per_destination = {c}", f"max_sessions = {c}", "",
        "[[connection]]", 'name = "isp"', 'link = "lan"', "[connection.outmail]",
        'method = "relay"', f'relays = ["127.0.0.1:{sink}"]', 'tls = "off"']
open(path, "w").write("\n".join(out) + "\n")
EOF
}

queued() { find "$1/spool/queue" -name '*.env' | wc -l; }

run_mailroom() { # NAME RESULTS
    local name=$1 bin=$BIN/$1 d=$WORK/$1-$RANDOM t0 t1 left i sent cpu
    "$bin" init --data "$d" --domain sender.test --admin-password bench-password >/dev/null
    configure "$d"
    prefill "$d" "$MESSAGES"
    t0=$(now)
    "$bin" serve --data "$d" >"$d.log" 2>&1 &
    SERVER_PID=$!
    for i in $(seq 30000); do
        left=$(queued "$d")
        ((left == 0)) && break
        sleep 0.02
    done
    t1=$(now)
    cpu=$(awk '{print ($14 + $15) / 100}' "/proc/$SERVER_PID/stat")
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" || true
    SERVER_PID=
    sent=$(grep -c "sent; removed from the queue" "$d.log" || true)
    if ((left != 0 || sent != MESSAGES)); then
        echo "$name: $left left in the queue, $sent sent (log $d.log)" >&2
        exit 1
    fi
    awk -v n="$MESSAGES" -v a="$t0" -v b="$t1" -v c="$cpu" -v s="$name" \
        'BEGIN {printf "%s %.0f %.2f %.2f\n", s, n/(b-a), b-a, c}' | tee -a "$2"
    rm -rf "$d" "$d.log"
}

# --- Postfix -----------------------------------------------------------------------

PF=$WORK/postfix
PF_PORT=
start_postfix() {
    PF_PORT=$(free_port)
    postfix_start "$PF" "$PF_PORT" sender.localdomain <<EOF
relayhost = [127.0.0.1]:$SINK_PORT
default_destination_concurrency_limit = $CONCURRENCY
smtp_destination_concurrency_limit = $CONCURRENCY
initial_destination_concurrency = $CONCURRENCY
default_process_limit = 200
smtp_tls_security_level = none
EOF
}

pf_count() { # queue subdirectories
    local n=0 q
    for q in "$@"; do
        n=$((n + $(find "$PF/queue/$q" -type f 2>/dev/null | wc -l)))
    done
    echo $n
}

run_postfix() { # RESULTS
    local t0 t1 i left sent before
    before=$(grep -c "status=sent" "$PF/maillog" || true)
    smtp-source -s 10 -m "$MESSAGES" -l 4096 -f alice@sender.test -t bob@example.com \
        "127.0.0.1:$PF_PORT"
    for i in $(seq 3000); do
        (($(pf_count hold) >= MESSAGES)) && break
        sleep 0.05
    done
    t0=$(now)
    postsuper -c "$PF/etc" -H ALL >/dev/null 2>&1
    postqueue -c "$PF/etc" -f
    for i in $(seq 30000); do
        left=$(pf_count incoming active deferred hold maildrop)
        ((left == 0)) && break
        sleep 0.02
    done
    t1=$(now)
    sleep 0.5
    sent=$(( $(grep -c "status=sent" "$PF/maillog" || true) - before ))
    if ((left != 0 || sent != MESSAGES)); then
        echo "postfix: $left left, $sent sent (see $PF/maillog)" >&2
        exit 1
    fi
    awk -v n="$MESSAGES" -v a="$t0" -v b="$t1" \
        'BEGIN {printf "postfix %.0f %.2f -\n", n/(b-a), b-a}' | tee -a "$1"
}

if wants postfix; then
    if [[ $(id -u) -ne 0 ]] || ! command -v postfix >/dev/null 2>&1; then
        echo "Postfix skipped: needs root and the postfix package"
        SERVERS=${SERVERS//postfix/}
    else
        start_postfix
        echo "postfix $(postconf -d -h mail_version 2>/dev/null): private instance relaying to the sink"
    fi
fi

RESULTS=$WORK/results.txt
: >"$RESULTS"
say "draining $MESSAGES queued 4 KB messages to smtp-sink, $CONCURRENCY sessions ($RUNS runs, round-robin)"
echo "server messages/s seconds cpu-seconds"
for r in $(seq "$RUNS"); do
    for s in $SERVERS; do
        case $s in
            mailroom|mailroom-lite) run_mailroom "$s" "$RESULTS" ;;
            postfix) run_postfix "$RESULTS" ;;
        esac
    done
done

say "median messages/s"
for s in $SERVERS; do
    printf '%-14s %s\n' "$s" "$(awk -v s="$s" '$1 == s {print $2}' "$RESULTS" | median)"
done
