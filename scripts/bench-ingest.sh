#!/usr/bin/env bash
# Loopback SMTP ingest benchmark: mailroom, mailroom-lite and Postfix receiving the same
# load of 4 KB messages from 1 and 10 parallel clients, with fsync on, plus a probe of
# what the disk itself allows and the idle memory of each binary.
#
#   scripts/bench-ingest.sh [--messages N] [--runs R] [--servers "mailroom mailroom-lite postfix"]
#                           [--skip-build]
#
# N (default 2000) messages are sent per measurement, R (default 3) measurements are
# taken and the median is printed; after each one the script checks that exactly N
# messages were stored, then empties the mailbox (or hold queue) for the next.
# Everything runs on 127.0.0.1 in a scratch directory under ${TMPDIR:-/tmp}, which is
# removed at the end (set KEEP=1 to keep it).
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
# mail from loopback to a local user needs none, and both servers are measured alike.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

MESSAGES=2000
RUNS=3
SERVERS="mailroom mailroom-lite postfix"
SKIP_BUILD=0
while (($#)); do
    case $1 in
        --messages) MESSAGES=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --servers) SERVERS=$2; shift 2 ;;
        --skip-build) SKIP_BUILD=1; shift ;;
        *) echo "usage: $0 [--messages N] [--runs R] [--servers LIST] [--skip-build]" >&2; exit 2 ;;
    esac
done

say() { printf '\n== %s\n' "$*"; }

if ((!SKIP_BUILD)); then
    say "building release binaries"
    cargo build --release -p mailroom-smol -p mailroom-std -p mailroom-benches --bins
fi
BIN=$ROOT/target/release
for b in smtp-load fsync-probe; do
    [[ -x $BIN/$b ]] || { echo "missing $BIN/$b" >&2; exit 1; }
done
HAVE_SMTP_SOURCE=0
command -v smtp-source >/dev/null 2>&1 && HAVE_SMTP_SOURCE=1

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mailroom-bench.XXXXXX")
chmod 755 "$WORK" # the postfix user must reach its queue under here
PIDS=()
POSTFIX_CONF=
cleanup() {
    for p in "${PIDS[@]}"; do
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

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() { # PORT: wait up to 20 s for a listener
    local i
    for i in $(seq 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "nothing listens on 127.0.0.1:$1" >&2
    return 1
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else print a[int((NR+1)/2)]}'; }

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# One measurement with smtp-source; prints msg/s.
run_smtp_source() { # PORT SESSIONS
    local t0 t1
    t0=$(date +%s.%N)
    smtp-source -s "$2" -m "$MESSAGES" -l 4096 -M client.example.com \
        -f alice@example.com -t bob@example.com "127.0.0.1:$1" >/dev/null
    t1=$(date +%s.%N)
    awk -v n="$MESSAGES" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f\n", n/(b-a)}'
}

# One measurement with smtp-load; prints msg/s.
run_smtp_load() { # PORT CONNECTIONS
    local per=$((MESSAGES / $2))
    "$BIN/smtp-load" --server "127.0.0.1:$1" --connections "$2" --messages "$per" \
        --size 4096 --pipelining --time-limit 300 |
        sed -n 's/.*msg_per_s=\([0-9.]*\).*/\1/p' | awk '{printf "%.0f\n", $1}'
}

RESULTS=$WORK/results.txt
: >"$RESULTS"
record() { # SERVER CLIENT PARALLEL RATE
    printf '%-14s %-12s %3s clients  %6s msg/s\n' "$1" "$2" "$3" "$4" | tee -a "$RESULTS"
}

# Where the server under test stores what it accepted: STORE_KIND is "maildir" (STORE
# is bob's Maildir) or "postfix" (STORE is the instance's config directory).
STORE_KIND=
STORE=
stored() {
    if [[ $STORE_KIND == maildir ]]; then
        # The Maildir appears with the first delivery.
        if [[ -d $STORE/new ]]; then find "$STORE/new" -type f | wc -l; else echo 0; fi
    else
        find "$(postconf -c "$STORE" -h queue_directory)/hold" -type f | wc -l
    fi
}
# Empty the store between measurements, as a mail client fetching the mail would: a
# mailbox or queue directory that keeps growing would make later runs slower.
clear_store() {
    if [[ $STORE_KIND == maildir ]]; then
        if [[ -d $STORE/new ]]; then find "$STORE/new" -type f -delete; fi
    else
        postsuper -c "$STORE" -d ALL hold >/dev/null 2>&1
    fi
}

measure() { # SERVER PORT
    local client par r rates n
    for par in 1 10; do
        for client in smtp-source smtp-load; do
            if [[ $client == smtp-source && $HAVE_SMTP_SOURCE == 0 ]]; then
                continue
            fi
            rates=()
            for r in $(seq "$RUNS"); do
                clear_store
                if [[ $client == smtp-source ]]; then
                    rates+=("$(run_smtp_source "$2" "$par")")
                else
                    rates+=("$(run_smtp_load "$2" "$par")")
                fi
                n=$(stored)
                if [[ $n != "$MESSAGES" ]]; then
                    echo "WARNING: $1 stored $n of $MESSAGES messages" | tee -a "$RESULTS"
                fi
            done
            record "$1" "$client" "$par" "$(printf '%s\n' "${rates[@]}" | median)"
        done
    done
    clear_store
}

say "machine"
echo "cpus: $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "memory: $(awk '/MemTotal/ {printf "%.1f GB", $2/1048576}' /proc/meminfo)"
echo "file system of $WORK: $(df -T "$WORK" | awk 'NR==2 {print $2 " on " $1}')"
echo "kernel: $(uname -r)"

say "disk: create + write 4 KB + fsync + rename, one thread (then 10 threads)"
"$BIN/fsync-probe" --dir "$WORK" --seconds 3 | tee -a "$RESULTS"
"$BIN/fsync-probe" --dir "$WORK" --seconds 3 --threads 10 | tee -a "$RESULTS"

# A fresh data directory served by BINARY on a free port; sets PORT and PID.
start_mailroom() { # BINARY
    local name=$1 dir=$WORK/$1
    PORT=$(free_port)
    "$BIN/$name" init --data "$dir" --domain example.com --admin-password 'bench-postmaster-1' \
        >"$WORK/$name.init.log" 2>&1
    # Only SMTP, on the chosen port; the rest of the generated config is kept.
    python3 - "$dir/mailroom.toml" "$PORT" <<'EOF'
import re, sys
path, port = sys.argv[1], sys.argv[2]
text = open(path).read()
services = f'[services]\nsmtp = ["127.0.0.1:{port}"]\nsmtps = []\npop3 = []\npop3s = []\nimap = []\nimaps = []\nhttp = []\n'
# Replace an existing [services] table (up to the next table) or append one.
pat = re.compile(r'^\[services\]\n(?:(?!\[).*\n?)*', re.M)
text = pat.sub(services, text) if pat.search(text) else text.rstrip('\n') + '\n\n' + services
open(path, 'w').write(text)
EOF
    "$BIN/$name" check --data "$dir" >/dev/null
    "$BIN/$name" user add alice --password 'alice-password-1' --data "$dir" >/dev/null
    "$BIN/$name" user add bob --password 'bob-password-1' --data "$dir" >/dev/null
    "$BIN/$name" serve --data "$dir" >"$WORK/$name.log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    wait_port "$PORT"
}

wants() { [[ " $SERVERS " == *" $1 "* ]]; }

for name in mailroom mailroom-lite; do
    wants "$name" || continue
    [[ -x $BIN/$name ]] || { echo "missing $BIN/$name" >&2; exit 1; }
    say "$name"
    start_mailroom "$name"
    sleep 2
    echo "idle RSS: $(rss_kb "$PID") kB" | tee -a "$RESULTS"
    printf '%-14s idle RSS %s kB\n' "$name" "$(rss_kb "$PID")" >>"$WORK/rss.txt"
    STORE_KIND=maildir
    STORE=$WORK/$name/mail/bob
    measure "$name" "$PORT"
    echo "peak RSS under load (VmHWM): $(hwm_kb "$PID") kB" | tee -a "$RESULTS"
    kill -TERM "$PID"
    status=0
    wait "$PID" || status=$?
    PIDS=()
    echo "$name exited with status $status after SIGTERM" | tee -a "$RESULTS"
done

if ! wants postfix; then
    echo "Postfix skipped (not in --servers)"
elif [[ $(id -u) -ne 0 ]] || ! command -v postfix >/dev/null 2>&1; then
    echo "Postfix skipped: needs root and the postfix package"
else
    say "postfix ($(postconf -d -h mail_version 2>/dev/null)), private instance, every message on hold"
    PF=$WORK/postfix
    mkdir -p "$PF/etc" "$PF/queue" "$PF/data"
    chown postfix "$PF/data"
    PPORT=$(free_port)
    master=/etc/postfix/master.cf
    [[ -f $master ]] || master=/usr/share/postfix/master.cf.dist
    cp "$master" "$PF/etc/master.cf"
    cat >"$PF/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
myhostname = bench.localdomain
mydomain = localdomain
mydestination =
relay_domains =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_client_restrictions = check_client_access static:HOLD
smtpd_relay_restrictions = permit_mynetworks, reject
alias_maps =
alias_database =
maillog_file_prefixes = $PF
maillog_file = $PF/maillog
EOF
    # Only smtpd listens, on the chosen port; no daemon runs chrooted (the scratch
    # directory holds no chroot files).
    sed -i "s/^smtp      inet .*/127.0.0.1:$PPORT inet n - n - - smtpd/" "$PF/etc/master.cf"
    postconf -c "$PF/etc" -F '*/*/chroot = n'
    POSTFIX_CONF=$PF/etc
    postfix -c "$PF/etc" start >/dev/null 2>&1 || {
        echo "postfix failed to start; see $PF/maillog" >&2
        cat "$PF/maillog" >&2 || true
        exit 1
    }
    wait_port "$PPORT"
    STORE_KIND=postfix
    STORE=$PF/etc
    measure postfix "$PPORT"
    postfix -c "$PF/etc" stop >/dev/null 2>&1 || true
    POSTFIX_CONF=
fi

say "summary"
cat "$WORK/rss.txt" 2>/dev/null || true
grep 'msg/s' "$RESULTS"
grep 'per_s' "$RESULTS"
