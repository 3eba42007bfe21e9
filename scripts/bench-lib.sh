# Shared by scripts/bench-*.sh, which source it first: the repository root as the
# working directory, the common defaults, the command line, the release build, ports,
# the median and a private Postfix.

cd "$(dirname "$0")/.."
ROOT=$PWD
MESSAGES=2000
RUNS=3

# Every `--name VALUE` that USAGE lists (as `[--name ...]`) sets the variable NAME;
# `--skip-build` sets SKIP_BUILD=1; anything else prints the usage and exits 2.
bench_options() { # USAGE ARGS...
    local usage=$1 var
    shift
    SKIP_BUILD=0
    while (($#)); do
        if [[ $1 == --skip-build ]]; then
            SKIP_BUILD=1
            shift
        elif [[ $1 == --* && " $usage " == *" [$1 "* && $# -ge 2 ]]; then
            var=${1#--}
            printf -v "${var^^}" '%s' "$2"
            shift 2
        else
            echo "usage: $0 $usage [--skip-build]" >&2
            exit 2
        fi
    done
}

say() { printf '\n== %s\n' "$*"; }
wants() { [[ " $SERVERS " == *" $1 "* ]]; }

BIN=${BIN:-$ROOT/target/release}
build_release() { # CARGO-BUILD-ARGS...: unless --skip-build
    if ((!SKIP_BUILD)); then
        say "building release binaries"
        cargo build --release "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() { # PORT: wait up to 20 s for a listener
    local i
    for i in $(seq 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on 127.0.0.1:$1" >&2
    return 1
}

# A private Postfix in DIR, started with `postfix -c DIR/etc` (its own config, queue
# and maillog; the system's Postfix is not touched), only smtpd listening, on
# 127.0.0.1:PORT, no daemon chrooted (DIR holds no chroot files), and every message
# from loopback put on hold. More main.cf lines come on stdin.
postfix_start() { # DIR PORT MYHOSTNAME <EXTRA-MAIN-CF
    local pf=$1 port=$2 master=/etc/postfix/master.cf
    mkdir -p "$pf/etc" "$pf/queue" "$pf/data"
    chown postfix "$pf/data"
    [[ -f $master ]] || master=/usr/share/postfix/master.cf.dist
    cp "$master" "$pf/etc/master.cf"
    {
        cat <<EOF
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
myhostname = $3
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
maillog_file_prefixes = $pf
maillog_file = $pf/maillog
EOF
        cat
    } >"$pf/etc/main.cf"
    sed -i "s/^smtp      inet .*/127.0.0.1:$port inet n - n - - smtpd/" "$pf/etc/master.cf"
    postconf -c "$pf/etc" -F '*/*/chroot = n'
    POSTFIX_CONF=$pf/etc
    postfix -c "$pf/etc" start >/dev/null 2>&1 || {
        echo "postfix failed to start:" >&2
        cat "$pf/maillog" >&2 || true
        exit 1
    }
    wait_port "$port"
}

# The settings every private Dovecot of the benchmarks shares: its state under DIR,
# POP3 (or PROTOCOLS) on 127.0.0.1 without TLS, plain passwords. The script adds
# accounts and port.
dovecot_conf() { # DIR [PROTOCOLS]
    cat <<EOF
base_dir = $1/run
state_dir = $1/state
log_path = $1/dovecot.log
protocols = ${2:-pop3}
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
EOF
}

# Drop dovecot from SERVERS unless its PROGRAM (e.g. /usr/lib/dovecot/imap, from
# PACKAGE) is installed and we are root (its mail processes switch to user nobody).
dovecot_check() { # PROGRAM PACKAGE
    wants dovecot || return 0
    if ! command -v dovecot >/dev/null 2>&1 || [[ ! -e $1 ]]; then
        echo "$2 is not installed (apt-get install $2); skipping Dovecot" >&2
        SERVERS=${SERVERS//dovecot/}
    elif [[ $(id -u) -ne 0 ]]; then
        echo "Dovecot's mail processes switch to user nobody, which needs root; skipping Dovecot" >&2
        SERVERS=${SERVERS//dovecot/}
    fi
}

# SCRATCH, a new directory NAME.XXXXXX under ${TMPDIR:-/tmp}; at exit the servers in
# PIDS and a Dovecot started from SCRATCH/dovecot are stopped and it is removed
# (KEEP=1 keeps it).
scratch_with_cleanup() { # NAME
    SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    PIDS=()
    trap scratch_cleanup EXIT
}
scratch_cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    if [[ -f $SCRATCH/dovecot/run/master.pid ]]; then
        kill "$(cat "$SCRATCH/dovecot/run/master.pid")" 2>/dev/null || true
        sleep 1
    fi
    if [[ ${KEEP:-0} == 1 ]]; then echo "kept $SCRATCH"; else rm -rf "$SCRATCH"; fi
}

# Start server NAME (dovecot from SCRATCH/dovecot/dovecot.conf on DPORT, else
# BIN/NAME serve --data D on PORT) and wait for its port; PID and PORT_OF say which.
PID=
start() { # NAME
    case $1 in
        dovecot)
            dovecot -c "$SCRATCH/dovecot/dovecot.conf"
            PORT_OF=$DPORT
            for _ in $(seq 100); do [[ -s $SCRATCH/dovecot/run/master.pid ]] && break; sleep 0.05; done
            PID=$(cat "$SCRATCH/dovecot/run/master.pid")
            ;;
        *)
            "$BIN/$1" serve --data "$D" >>"$SCRATCH/$1.log" 2>&1 &
            PID=$!
            PIDS+=("$PID")
            PORT_OF=$PORT
            ;;
    esac
    wait_port "$PORT_OF" || exit 1
}
stop() {
    kill "$PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
    PID=
}

# The retrieval runs of bench-pop3.sh and bench-imap.sh: RUNS rounds, round-robin over
# SERVERS; in the first round one warm-up pass (so every server's index exists), then
# the script's `load` with 1 client for ONE sessions and 10 clients for TEN sessions
# each. One line per figure goes to RESULTS.
retrieval_rounds() { # ONE TEN
    : >"$RESULTS"
    for run in $(seq 1 "$RUNS"); do
        for s in $SERVERS; do
            start "$s"
            if ((run == 1)); then load --clients 10 --sessions 1 >/dev/null; fi
            for c in 1 10; do
                sessions=$((c == 1 ? $1 : $2))
                out=$(load --clients "$c" --sessions "$sessions")
                echo "$s clients=$c run=$run $out" | tee -a "$RESULTS"
            done
            stop
        done
    done
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else print a[int((NR+1)/2)]}'; }
