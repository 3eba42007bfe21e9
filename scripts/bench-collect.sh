#!/usr/bin/env bash
# POP3 collection throughput: N messages of 4 KB collected from a private Dovecot POP3
# server into local Maildirs, by mailroom, mailroom-lite and fetchmail.
#
#   scripts/bench-collect.sh [--messages N] [--runs R]
#                            [--collectors "mailroom mailroom-lite fetchmail-cat fetchmail-lda"]
#                            [--skip-build]
#
# The ISP is a private Dovecot (own config, port, base_dir, passwd-file; the system's
# Dovecot is untouched) holding one account with N messages (default 2000), all for
# alice@example.com. Before every measurement the account's Maildir is put back from a
# template (Dovecot's index removed too, so each collector pays the same indexing).
#
# - mailroom / mailroom-lite: a scratch data directory (`init`, domain example.com,
#   user alice) with one LAN connection and one [[inmail]] on it (tls = "none",
#   leave_on_server_days = 0). The clock runs around `connect isp --wait`, which returns
#   when the run has ended: every message retrieved, stored durably (fsync) in alice's
#   Maildir, DELEd, and the QUIT answered.
# - fetchmail-cat: `fetchall nokeep` with the simplest MDA, a shell that writes the
#   message to the Maildir's tmp/ with cat and renames it into new/ (no fsync: less
#   than mailroom promises, so this favours fetchmail).
# - fetchmail-lda: the same with Dovecot's own LDA as the MDA (`dovecot-lda -d alice`,
#   fsyncing Maildir delivery), the usual way to give fetchmail durable local
#   delivery without an MTA in between.
#   fetchmail runs one MDA process per message either way.
#
# Afterwards each collector must have left Dovecot's mailbox empty and put exactly N
# messages in the local Maildir (else the run fails). Measured round-robin R times
# (default 3); the median is printed. Needs root (Dovecot's mail processes and the LDA
# switch to user nobody). Scratch files go under ${TMPDIR:-/tmp} and are removed at the
# end (KEEP=1 keeps them).
set -euo pipefail

source "$(dirname "$0")/bench-lib.sh"
COLLECTORS="mailroom mailroom-lite fetchmail-cat fetchmail-lda"
bench_options "[--messages N] [--runs R] [--collectors LIST]" "$@"
wants() { [[ " $COLLECTORS " == *" $1 "* ]]; }

[[ $(id -u) -eq 0 ]] || { echo "needs root (Dovecot's mail processes run as nobody)" >&2; exit 1; }
command -v dovecot >/dev/null 2>&1 && [[ -e /usr/lib/dovecot/pop3 ]] ||
    { echo "dovecot-pop3d is needed (apt-get install dovecot-core dovecot-pop3d)" >&2; exit 1; }
LDA=/usr/lib/dovecot/dovecot-lda
if ! command -v fetchmail >/dev/null 2>&1; then
    echo "fetchmail is missing; skipping it" >&2
    COLLECTORS=${COLLECTORS//fetchmail-cat/}
    COLLECTORS=${COLLECTORS//fetchmail-lda/}
elif [[ ! -x $LDA ]]; then
    echo "$LDA is missing; skipping fetchmail-lda" >&2
    COLLECTORS=${COLLECTORS//fetchmail-lda/}
fi
build_release -p mailroom-smol -p mailroom-std --bins

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/mailroom-collectbench.XXXXXX")
chmod 755 "$SCRATCH"
PIDS=()
DV=$SCRATCH/dovecot
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    if [[ -f $DV/run/master.pid ]]; then
        kill "$(cat "$DV/run/master.pid")" 2>/dev/null || true
        sleep 1
    fi
    if [[ ${KEEP:-0} == 1 ]]; then echo "kept $SCRATCH"; else rm -rf "$SCRATCH"; fi
}
trap cleanup EXIT

DPORT=$(free_port)
ISP_PASSWORD=isp-secret-1

say "Dovecot on 127.0.0.1:$DPORT, $MESSAGES messages of 4096 octets for alice@example.com"
mkdir -p "$DV/run" "$DV/state" "$DV/home/office" "$DV/home/alice" "$SCRATCH/template"
PYTHONPATH=$ROOT/scripts python3 - "$SCRATCH/template" "$MESSAGES" <<'PY'
import os, sys
from benchlib import message
root, n = sys.argv[1], int(sys.argv[2])
for sub in ("new", "cur", "tmp"):
    os.makedirs(os.path.join(root, sub), exist_ok=True)
for k in range(n):
    head = (f"Return-Path: <sender@partner.example>\nFrom: Sender <sender@partner.example>\n"
            f"To: Alice <alice@example.com>\nSubject: collection benchmark {k}\n"
            f"Message-Id: <bench-{k}@isp.example>\nDate: Mon, 23 Nov 2026 10:00:00 +0000\n\n")
    # 4096 octets as Dovecot sends them (CRLF): the file has LF line ends.
    body = message(head, k, b"\n", 3850)
    with open(os.path.join(root, "new", f"1774256400.M{k}P1.isp"), "wb") as f:
        f.write(body)
PY
cat >"$DV/passwd" <<EOF
office:{PLAIN}$ISP_PASSWORD:65534:65534::$DV/home/office::
alice:{PLAIN}unused-1:65534:65534::$DV/home/alice::
EOF
chmod 644 "$DV/passwd"
{
    dovecot_conf "$DV"
    cat <<EOF
instance_name = mailroom-collectbench
first_valid_uid = 1
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DV/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%u $DV/passwd
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $DPORT
  }
}
EOF
} >"$DV/dovecot.conf"
dovecot -c "$DV/dovecot.conf"
for _ in $(seq 100); do [[ -s $DV/run/master.pid ]] && break; sleep 0.05; done
for _ in $(seq 200); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1',$DPORT),1).close()" 2>/dev/null && break
    sleep 0.05
done

ISP_MD=$DV/home/office/Maildir
refill() {
    rm -rf "$ISP_MD"
    cp -a "$SCRATCH/template" "$ISP_MD"
    chown -R nobody:nogroup "$DV/home"
    sync
}
isp_left() { find "$ISP_MD/new" "$ISP_MD/cur" -type f | wc -l; }
now() { date +%s.%N; }

# Mailroom: one data directory per binary, SMTP only on a free port, one In Mail.
setup_mailroom() {
    local b=$1 d=$SCRATCH/$1
    rm -rf "$d"
    "$BIN/$b" init --data "$d" --domain example.com --admin-password bench-admin-1 >/dev/null
    local port
    port=$(free_port)
    python3 - "$d/mailroom.toml" "$port" "$DPORT" "$ISP_PASSWORD" <<'PY'
import re, sys
path, port, dport, pw = sys.argv[1:5]
text = open(path).read()
def service(m):
    key = m.group(1)
    return f'{key} = ["127.0.0.1:{port}"]' if key == "smtp" else f"{key} = []"
text = re.sub(r"(?m)^(smtp|smtps|pop3|pop3s|imap|imaps|http|pass) = .*$", service, text)
text += f'''
[[connection]]
name = "isp"
link = "lan"
primary = true

[[inmail]]
name = "isp-box"
connections = ["isp"]
server = "127.0.0.1:{dport}"
user = "office"
password = "{pw}"
tls = "none"
accepted_domains = ["example.com"]
leave_on_server_days = 0
'''
open(path, "w").write(text)
PY
    echo "$port" >"$SCRATCH/$b.smtp-port"
    "$BIN/$b" user add alice --password alice-secret-1 --data "$d" >/dev/null
    "$BIN/$b" check --data "$d" >/dev/null
}

collect_mailroom() {
    local b=$1 d=$SCRATCH/$1
    rm -rf "$d/mail/alice/new" "$d/mail/alice/cur"
    mkdir -p "$d/mail/alice/new" "$d/mail/alice/cur"
    "$BIN/$b" serve --data "$d" >>"$SCRATCH/$b.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    local ok=0
    for _ in $(seq 200); do
        if python3 -c "import socket; socket.create_connection(('127.0.0.1',$(cat "$SCRATCH/$b.smtp-port")),1).close()" 2>/dev/null; then
            ok=1
            break
        fi
        sleep 0.05
    done
    ((ok)) || { echo "$b serve did not come up" >&2; tail "$SCRATCH/$b.log" >&2; exit 1; }
    local t0 t1
    t0=$(now)
    "$BIN/$b" connect isp --wait --data "$d" >"$SCRATCH/$b.connect" 2>&1 ||
        { echo "$b connect failed" >&2; cat "$SCRATCH/$b.connect" >&2; exit 1; }
    t1=$(now)
    kill "$pid"; wait "$pid" 2>/dev/null || true
    got=$(find "$d/mail/alice/new" "$d/mail/alice/cur" -type f | wc -l)
    # The run itself, from the server's log: "collecting" to "collection done".
    run=$(python3 - "$SCRATCH/$b.log" <<'PY'
import datetime, re, sys
text = re.sub(r"\x1b\[[0-9;]*m", "", open(sys.argv[1], errors="replace").read())
def at(word):
    stamps = re.findall(r"^(\S+Z)\s+INFO\s+\S+ " + word, text, re.M)
    return datetime.datetime.fromisoformat(stamps[-1].replace("Z", "+00:00"))
print(f"{(at('collection done') - at('collecting')).total_seconds():.3f}")
PY
)
    echo "$t0 $t1 $got $run"
}

FM_HOME=$SCRATCH/fetchmail
mkdir -p "$FM_HOME"
ALICE_MD=$DV/home/alice/Maildir
# One rc file per MDA.
fetchmailrc() {
    cat >"$FM_HOME/$1.rc" <<EOF
set no syslog
poll 127.0.0.1 service $DPORT protocol pop3 auth password
    user "office" password "$ISP_PASSWORD" is "alice" here sslproto ''
    fetchall nokeep
    mda "$2"
EOF
    chmod 600 "$FM_HOME/$1.rc"
}
fetchmailrc fetchmail-cat "/bin/sh -c 'f=$ALICE_MD/tmp/\$\$.fm; cat >\$f && mv \$f $ALICE_MD/new/'"
fetchmailrc fetchmail-lda "$LDA -c $DV/dovecot.conf -d alice"
collect_fetchmail() {
    rm -rf "$ALICE_MD"
    mkdir -p "$ALICE_MD"/{new,cur,tmp}
    chown -R nobody:nogroup "$DV/home/alice"
    local t0 t1
    t0=$(now)
    HOME=$FM_HOME fetchmail -f "$FM_HOME/$1.rc" --pidfile "$FM_HOME/pid" --nosyslog \
        --logfile "$FM_HOME/$1.log" >/dev/null 2>&1 || true
    t1=$(now)
    got=$(find "$ALICE_MD/new" "$ALICE_MD/cur" -type f | wc -l)
    echo "$t0 $t1 $got $(python3 -c "print(f'{$t1 - $t0:.3f}')")"
}

for c in $COLLECTORS; do
    case $c in mailroom|mailroom-lite) setup_mailroom "$c" ;; esac
done

RESULTS=$SCRATCH/results
: >"$RESULTS"
for i in $(seq 1 "$RUNS"); do
    for c in $COLLECTORS; do
        refill
        case $c in
            fetchmail-*) read -r t0 t1 got run < <(collect_fetchmail "$c") ;;
            *) read -r t0 t1 got run < <(collect_mailroom "$c") ;;
        esac
        left=$(isp_left)
        if [[ $got -ne $MESSAGES || $left -ne 0 ]]; then
            echo "$c run $i: $got messages stored, $left left at the ISP (want $MESSAGES and 0)" >&2
            [[ $c == fetchmail-* ]] && tail -5 "$FM_HOME/$c.log" >&2
            exit 1
        fi
        secs=$(python3 -c "print(f'{$t1 - $t0:.3f}')")
        echo "$c run=$i secs=$secs msg_per_s=$(python3 -c "print(round($MESSAGES / ($t1 - $t0)))") collect_secs=$run collect_msg_per_s=$(python3 -c "print(round($MESSAGES / $run))")" | tee -a "$RESULTS"
    done
done

say "POP3 collection from Dovecot, $MESSAGES messages of 4096 octets, median of $RUNS runs"
PYTHONPATH=$ROOT/scripts python3 - "$RESULTS" "$MESSAGES" <<'PY'
import statistics, sys
from benchlib import grouped
rows = grouped(sys.argv[1], r"(\S+) run=\d+ secs=([\d.]+) msg_per_s=\d+ collect_secs=([\d.]+)")
n = int(sys.argv[2])
print("wall: the whole command (mailroom: `connect --wait`, which includes the server")
print("picking up the request); run: the POP3 session alone (mailroom: its log).")
print(f"{'collector':<15}{'wall s':>8}{'msg/s':>8}{'run s':>8}{'msg/s':>8}  runs (msg/s, run)")
for c, v in rows.items():
    wall = statistics.median(x[0] for x in v)
    run = statistics.median(x[1] for x in v)
    each = " ".join(str(round(n / x[1])) for x in v)
    print(f"{c:<15}{wall:>8.2f}{n / wall:>8.0f}{run:>8.2f}{n / run:>8.0f}  {each}")
PY
