#!/usr/bin/env bash
# Loopback SMTP ingest benchmark: mailroom, mailroom-lite and Postfix receiving the same
# load of 4 KB messages from 1, 10 and 50 parallel clients (PARALLEL="1 10" to change),
# with fsync on, plus a probe of what the disk itself allows and the memory of each
# binary.
#
#   scripts/bench-ingest.sh [--messages N] [--runs R] [--servers "mailroom mailroom-lite postfix"]
#                           [--logs default|off|all] [--skip-build]
#
# --logs sets mailroom's [logs]: `off` writes neither the main log nor SUMMARY.LOG,
# `all` adds every transcript (docs/LOGS.md), `default` leaves the generated config.
# BIN=DIR runs the binaries in DIR instead of target/release (with --skip-build).
#
# The servers `mailroom-direct` and `mailroom-lite-direct` are the same binaries with
# the ingest journal off (MAILROOM_BENCH_DIRECT_INGEST=1: tmp/ + fsync + rename +
# directory fsync per message, the path before the journal), for a before/after in one
# run.
#
# All servers are started first; then every measurement (client × parallelism) is taken
# R times (default 3) round-robin over the servers, so a noisy neighbour or a slow
# moment of the disk hits them alike, and the median is printed. Each measurement sends
# N messages (default 2000), checks that exactly N were stored, then empties the mailbox
# (or hold queue) as a mail client fetching the mail would. Everything runs on
# 127.0.0.1 in a scratch directory under ${TMPDIR:-/tmp}, removed at the end (KEEP=1
# keeps it).
#
# The Postfix instance is private to this run: its own config_directory, queue and
# port, started with `postfix -c DIR`; the system's Postfix is not touched. Every
# message is put on hold (`check_client_access static:HOLD`), so Postfix only receives
# (smtpd → cleanup → fsync of the queue file) and never delivers: the same work as
# mailroom's "stored durably before 250". Postfix needs root (its queue belongs to the
# postfix user); without root it is skipped.
#
# Clients: Postfix's `smtp-source` (a new connection per message, no pipelining, like
# many mail clients) and our `smtp-load` (one connection per client for all its messages,
# PIPELINING). smtp-source -l counts only the body, so its messages are 4096 octets of
# body plus its small header; smtp-load's are 4096 octets in total. Neither uses AUTH:
# mail from loopback to a local user needs none, and all servers are measured alike.
set -euo pipefail

source "$(dirname "$0")/bench-lib.sh"
SERVERS="mailroom mailroom-lite postfix"
LOGS=default
bench_options "[--messages N] [--runs R] [--servers LIST] [--logs WHICH]" "$@"

build_release -p mailroom-smol -p mailroom-std -p mailroom-benches --bins
for b in smtp-load fsync-probe; do
    [[ -x $BIN/$b ]] || { echo "missing $BIN/$b" >&2; exit 1; }
done
HAVE_SMTP_SOURCE=0
command -v smtp-source >/dev/null 2>&1 && HAVE_SMTP_SOURCE=1

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mailroom-bench.XXXXXX")
chmod 755 "$WORK" # the postfix user must reach its queue under here
RESULTS=$WORK/results.txt
: >"$RESULTS"

# bench-lib.sh leaves a scalar PID behind; as an associative array it would gain a key "0".
unset PID
declare -A PORT PID STORE
ACTIVE=()
POSTFIX_CONF=
cleanup() {
    local p
    for p in "${PID[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    if [[ -n $POSTFIX_CONF ]]; then
        postfix -c "$POSTFIX_CONF" stop >/dev/null 2>&1 || true
    fi
    if [[ ${KEEP:-0} == 1 ]]; then
        echo "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# What SERVER has stored so far, and emptying it: bob's Maildir for mailroom (it
# appears with the first delivery), the hold queue for Postfix.
stored() { # SERVER
    if [[ $1 == postfix ]]; then
        find "${STORE[$1]}/queue/hold" -type f | wc -l
    elif [[ -d ${STORE[$1]}/new ]]; then
        find "${STORE[$1]}/new" -type f | wc -l
    else
        echo 0
    fi
}
clear_store() { # SERVER
    if [[ $1 == postfix ]]; then
        postsuper -c "${STORE[$1]}/etc" -d ALL hold >/dev/null 2>&1
    elif [[ -d ${STORE[$1]}/new ]]; then
        find "${STORE[$1]}/new" -type f -delete
    fi
}

# One measurement; prints msg/s.
run_client() { # CLIENT PORT PARALLEL
    local t0 t1
    if [[ $1 == smtp-source ]]; then
        t0=$(date +%s.%N)
        smtp-source -s "$3" -m "$MESSAGES" -l 4096 -M client.example.com \
            -f alice@example.com -t bob@example.com "127.0.0.1:$2" >/dev/null
        t1=$(date +%s.%N)
        awk -v n="$MESSAGES" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f\n", n/(b-a)}'
    else
        "$BIN/smtp-load" --server "127.0.0.1:$2" --connections "$3" \
            --messages $((MESSAGES / $3)) --size 4096 --pipelining --time-limit 300 |
            sed -n 's/.*msg_per_s=\([0-9.]*\).*/\1/p' | awk '{printf "%.0f\n", $1}'
    fi
}

say "machine"
echo "cpus: $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "memory: $(awk '/MemTotal/ {printf "%.1f GB", $2/1048576}' /proc/meminfo)"
echo "file system of $WORK: $(df -T "$WORK" | awk 'NR==2 {print $2 " on " $1}')"
echo "kernel: $(uname -r); load average: $(cut -d' ' -f1-3 /proc/loadavg)"

say "disk: create + write 4 KB + fsync + rename (then the same plus fsync of the directory)"
"$BIN/fsync-probe" --dir "$WORK" --seconds 3 | tee -a "$RESULTS"
"$BIN/fsync-probe" --dir "$WORK" --seconds 3 --threads 10 | tee -a "$RESULTS"

start_mailroom() { # NAME: a binary, or a binary with -direct (journal off)
    local name=$1 dir=$WORK/$1 port bin=${1%-direct} direct=0
    [[ $name == *-direct ]] && direct=1
    [[ -x $BIN/$bin ]] || { echo "missing $BIN/$bin" >&2; exit 1; }
    port=$(free_port)
    "$BIN/$bin" init --data "$dir" --domain example.com --admin-password 'bench-postmaster-1' \
        >"$WORK/$name.init.log" 2>&1
    # Only SMTP, on the chosen port; the rest of the generated config is kept.
    python3 - "$dir/mailroom.toml" "$port" <<'EOF'
import re, sys
path, port = sys.argv[1], sys.argv[2]
text = open(path).read()
services = f'[services]\nsmtp = ["127.0.0.1:{port}"]\nsmtps = []\npop3 = []\npop3s = []\nimap = []\nimaps = []\nhttp = []\n\n'
# Replace the [services] table (up to the next table) or append one.
pat = re.compile(r'^\[services\]\n(?:(?!\[).*\n?)*', re.M)
text = pat.sub(lambda m: services, text) if pat.search(text) else text.rstrip('\n') + '\n\n' + services
open(path, 'w').write(text)
EOF
    case $LOGS in
    off) printf '\n[logs]\nmain = false\nsummary = false\n' >>"$dir/mailroom.toml" ;;
    all) printf '\n[logs]\nsmtp_server = true\nsmtp_client = true\npop3_server = true\npop3_client = true\nimap_server = true\n' >>"$dir/mailroom.toml" ;;
    default) ;;
    *) echo "--logs: default, off or all" >&2; exit 2 ;;
    esac
    "$BIN/$bin" check --data "$dir" >/dev/null
    "$BIN/$bin" user add alice --password 'alice-password-1' --data "$dir" >/dev/null
    "$BIN/$bin" user add bob --password 'bob-password-1' --data "$dir" >/dev/null
    MAILROOM_BENCH_DIRECT_INGEST=$direct "$BIN/$bin" serve --data "$dir" >"$WORK/$name.log" 2>&1 &
    PID[$name]=$!
    PORT[$name]=$port
    STORE[$name]=$dir/mail/bob
    wait_port "$port"
    ACTIVE+=("$name")
}

start_postfix() {
    local port
    port=$(free_port)
    postfix_start "$WORK/postfix" "$port" bench.localdomain </dev/null
    PORT[postfix]=$port
    STORE[postfix]=$WORK/postfix
    ACTIVE+=(postfix)
}

say "starting servers"
for name in mailroom mailroom-direct mailroom-lite mailroom-lite-direct; do
    wants "$name" && start_mailroom "$name"
done
if wants postfix; then
    if [[ $(id -u) -ne 0 ]] || ! command -v postfix >/dev/null 2>&1; then
        echo "Postfix skipped: needs root and the postfix package"
    else
        start_postfix
        echo "postfix $(postconf -d -h mail_version 2>/dev/null): private instance, every message on hold"
    fi
fi
sleep 2
for name in "${!PID[@]}"; do
    printf '%-14s idle RSS %6s kB\n' "$name" "$(rss_kb "${PID[$name]}")" | tee -a "$RESULTS"
done

say "ingest, $MESSAGES messages per measurement, median of $RUNS"
for par in ${PARALLEL:-1 10 50}; do
    for client in smtp-source smtp-load; do
        if [[ $client == smtp-source && $HAVE_SMTP_SOURCE == 0 ]]; then
            continue
        fi
        declare -A rates=()
        for r in $(seq "$RUNS"); do
            for name in "${ACTIVE[@]}"; do
                clear_store "$name"
                rates[$name]+="$(run_client "$client" "${PORT[$name]}" "$par") "
                n=$(stored "$name")
                if [[ $n != "$MESSAGES" ]]; then
                    echo "WARNING: $name stored $n of $MESSAGES messages" | tee -a "$RESULTS"
                fi
            done
        done
        for name in "${ACTIVE[@]}"; do
            printf '%-14s %-12s %3s clients %6s msg/s   (runs: %s)\n' "$name" "$client" "$par" \
                "$(tr ' ' '\n' <<<"${rates[$name]}" | grep . | median)" "${rates[$name]% }" |
                tee -a "$RESULTS"
        done
        unset rates
    done
done
for name in "${ACTIVE[@]}"; do
    clear_store "$name"
done

say "stopping"
for name in "${!PID[@]}"; do
    printf '%-14s peak RSS under load (VmHWM) %6s kB\n' "$name" "$(hwm_kb "${PID[$name]}")" |
        tee -a "$RESULTS"
    kill -TERM "${PID[$name]}"
    status=0
    wait "${PID[$name]}" || status=$?
    unset "PID[$name]"
    echo "$name exited with status $status after SIGTERM" | tee -a "$RESULTS"
    # Group commit at work: how many directory fsyncs the deliveries shared.
    grep -o 'stopped (.*)' "$WORK/$name.log" | sed "s/^/$name /" | tee -a "$RESULTS" || true
done
if [[ -n $POSTFIX_CONF ]]; then
    postfix -c "$POSTFIX_CONF" stop >/dev/null 2>&1 || true
    POSTFIX_CONF=
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

say "summary"
cat "$RESULTS"
