#!/usr/bin/env bash
# Loopback POP3 retrieval benchmark: mailroom, mailroom-lite and a private Dovecot
# (Debian's dovecot-pop3d) serving the same Maildirs of 4 KB messages to 1 and 10
# clients, plus the resident memory each spends per open, logged-in POP3 session.
#
#   scripts/bench-pop3.sh [--messages N] [--runs R] [--hold H]
#                         [--servers "mailroom mailroom-lite dovecot"] [--skip-build]
#
# Ten mailboxes (load1..load10) get N messages each (default 2000), written as Maildir
# files. A measurement is our Rust client `pop3-load` (benches/src/bin/pop3-load.rs):
# each client logs in to its own mailbox (a POP3 mailbox is locked per session),
# retrieves every message with up to 32 RETRs in flight (PIPELINING, which both
# servers advertise), and quits without deleting. 1 client runs 10 sessions in a row,
# 10 clients 3 sessions each. Every server gets one warm-up pass first, so both
# Mailroom's index and Dovecot's have been built; each measurement is taken R times
# (default 3) round-robin over the servers and the median is printed.
#
# Memory per session: H clients (default 50, mailboxes hold1..holdH) log in and stay
# connected; the server's resident memory (for Dovecot: its master and every child
# process) is sampled before and while they are open.
#
# Dovecot runs from its own config in the scratch directory (port, base_dir, logs), as
# user nobody (it refuses root for mail access), with plain passwords from a
# passwd-file; the system's Dovecot, if any, is not touched. Everything listens on
# 127.0.0.1 only; the scratch directory under ${TMPDIR:-/tmp} is removed at the end
# (KEEP=1 keeps it).
set -euo pipefail

source "$(dirname "$0")/bench-lib.sh"
HOLD=50
SERVERS="mailroom mailroom-lite dovecot"
bench_options "[--messages N] [--runs R] [--hold H] [--servers LIST]" "$@"

build_release -p mailroom-smol -p mailroom-std -p mailroom-benches --bins
[[ -x $BIN/pop3-load ]] || { echo "missing $BIN/pop3-load" >&2; exit 1; }

dovecot_check /usr/lib/dovecot/pop3 dovecot-pop3d
scratch_with_cleanup mailroom-pop3bench

PORT=$(free_port)
D=$SCRATCH/data
PASSWORD=load-secret-1

say "setting up $D: 10 mailboxes x $MESSAGES messages of 4096 octets, $HOLD empty ones"
"$BIN/mailroom" init --data "$D" --domain example.com --admin-password bench-admin-1 >/dev/null
python3 - "$D/mailroom.toml" "$PORT" <<'PY'
import re, sys
path, port = sys.argv[1], sys.argv[2]
text = open(path).read()
def service(m):
    key = m.group(1)
    return f'{key} = ["127.0.0.1:{port}"]' if key == "pop3" else f"{key} = []"
text = re.sub(r"(?m)^(smtp|smtps|pop3|pop3s|imap|imaps|http|pass) = .*$", service, text)
open(path, "w").write(text)
PY
USERS=()
for i in $(seq 1 10); do USERS+=("load$i"); done
for i in $(seq 1 "$HOLD"); do USERS+=("hold$i"); done
for u in "${USERS[@]}"; do
    "$BIN/mailroom" user add "$u" --password "$PASSWORD" --data "$D" >/dev/null
done
PYTHONPATH=$ROOT/scripts python3 - "$D/mail" "$MESSAGES" <<'PY'
import os, sys
from benchlib import message
root, n = sys.argv[1], int(sys.argv[2])
for i in range(1, 11):
    new = os.path.join(root, f"load{i}", "new")
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(root, f"load{i}", sub), exist_ok=True)
    for k in range(n):
        head = (f"From: Sender <sender@example.net>\r\nTo: load{i}@example.com\r\n"
                f"Subject: benchmark message {k}\r\nMessage-Id: <{i}.{k}@example.net>\r\n"
                "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n\r\n")
        body = message(head, k, b"\r\n", 3900)
        with open(os.path.join(new, f"1767225600.M{k}P{i}.bench,S=4096"), "wb") as f:
            f.write(body)
PY
for u in "${USERS[@]}"; do mkdir -p "$D/mail/$u/new" "$D/mail/$u/cur" "$D/mail/$u/tmp"; done

if wants dovecot; then
    DV=$SCRATCH/dovecot
    mkdir -p "$DV/run" "$DV/state"
    for u in "${USERS[@]}"; do echo "$u:{PLAIN}$PASSWORD"; done >"$DV/passwd"
    DPORT=$(free_port)
    {
        dovecot_conf "$DV"
        cat <<EOF2
mail_location = maildir:$D/mail/%u
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DV/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$D/mail/%u
}
service pop3-login {
  inet_listener pop3 {
    port = $DPORT
  }
}
EOF2
    } >"$DV/dovecot.conf"
    # Dovecot's processes run as its own users and nobody; they must reach the files,
    # and its mail processes write their index into each Maildir.
    chmod 755 "$SCRATCH" "$D" "$D/mail"
    chmod 644 "$DV/passwd"
    chown -R nobody:nogroup "$D/mail"
fi

# Resident kB of the server: the process, or Dovecot's master and all its children.
rss() {
    if [[ $1 == dovecot ]]; then
        ps -eo pid=,ppid=,rss= | awk -v m="$PID" '$1==m || $2==m {s+=$3} END {print s+0}'
    else
        ps -o rss= -p "$PID" | tr -d ' '
    fi
}
load() { "$BIN/pop3-load" --server "127.0.0.1:$PORT_OF" --user 'load%' --password "$PASSWORD" --time-limit 300 "$@"; }

RESULTS=$SCRATCH/results
retrieval_rounds 10 3

say "memory per open POP3 session ($HOLD sessions logged in and idle)"
MEM=$SCRATCH/memory
: >"$MEM"
for s in $SERVERS; do
    start "$s"
    sleep 1
    before=$(rss "$s")
    "$BIN/pop3-load" --server "127.0.0.1:$PORT_OF" --user 'hold%' --password "$PASSWORD" --clients "$HOLD" --hold 8 >/dev/null &
    loader=$!
    sleep 6
    during=$(rss "$s")
    wait "$loader"
    stop
    echo "$s before=$before during=$during per_session=$(( (during - before) / HOLD ))" | tee -a "$MEM"
done

say "POP3 retrieval, 4096-octet messages, median of $RUNS runs"
PYTHONPATH=$ROOT/scripts python3 - "$RESULTS" "$MEM" <<'PY'
import sys
from benchlib import retrieval_table
retrieval_table(sys.argv[1])
print()
for line in open(sys.argv[2]):
    s, *kv = line.split()
    d = dict(x.split("=") for x in kv)
    print(f"{s:<15} RSS {d['before']} kB idle, {d['during']} kB with the sessions open: {d['per_session']} kB per session")
PY
