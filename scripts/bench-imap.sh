#!/usr/bin/env bash
# Loopback IMAP benchmark: mailroom, mailroom-lite and a private Dovecot (Debian's
# dovecot-imapd) serving the same Maildirs of 4 KB messages. Three measurements:
#
#   scripts/bench-imap.sh [--messages N] [--runs R] [--hold H] [--secs S]
#                         [--servers "mailroom mailroom-lite dovecot"] [--skip-build]
#
# 1. FETCH of whole messages. Ten mailboxes (load1..load10) get N messages each
#    (default 2000) as Maildir files. Our client `imap-load`
#    (benches/src/bin/imap-load.rs): each client LOGINs to its own mailbox, SELECTs
#    INBOX, FETCHes every message with BODY.PEEK[] (batches of 100, 4 FETCHes in
#    flight) and LOGOUTs. 1 client runs 30 sessions in a row, 10 clients 10 sessions
#    each. Dovecot's accounts carry the argon2id hashes Mailroom stored for them
#    (DOVECOT_PASSWORDS=plain gives it clear passwords), so a login costs both alike.
#    Every server gets one warm-up pass first (so Mailroom's index and Dovecot's
#    exist); each figure is taken R times (default 3) round-robin, median printed.
# 2. imaptest's stress mode (S seconds, default 10, its default 10 clients on one
#    mailbox, appending from a 300-message mbox): operations per second. Each server
#    gets its own mailbox. Mailroom checks argon2id hashes, so Dovecot is run three
#    ways: a plain password, an ARGON2ID hash from `doveadm pw -s ARGON2ID` (libsodium's
#    defaults: 64 MiB, 3 passes) and the very argon2id hash Mailroom stored for its own
#    account (19 MiB, 2 passes: the same cost as Mailroom's).
# 3. Logins per second: clients that only connect, LOGIN and LOGOUT, again and again
#    (Outlook and phones open a connection per folder), 1 and 10 clients for S
#    seconds each, R rounds round-robin, median printed. Each client logs in to its own
#    account (load1..load10) with the argon2id hash Mailroom stored, in Dovecot too.
#    Mailroom answers a repeated login from its cache of recent successes
#    (services/passwords.rs); Dovecot's authentication cache (on here) keeps the hash,
#    not the outcome, so it verifies argon2id at every login. A second Dovecot row
#    (dovecot-plain, one account with a clear-text password) shows its login path
#    without the hash.
# 4. Memory per idle IMAP session: H clients (default 200, mailboxes hold1..holdH,
#    empty; then full1..fullH with 100 messages each) log in, SELECT INBOX and stay
#    connected; the server's resident memory (for Dovecot: its master and every child)
#    is sampled before and while they are open, and Dovecot's proportional set size
#    (PSS, from /proc/PID/smaps_rollup, which shares the common pages out) too.
#
# Dovecot runs from its own config in the scratch directory (port, base_dir, logs), as
# user nobody, with passwords from a passwd-file (Mailroom's hashes, see 1); the system's Dovecot, if any, is not
# touched. Everything listens on 127.0.0.1 only; the scratch directory under
# ${TMPDIR:-/tmp} is removed at the end (KEEP=1 keeps it).
set -euo pipefail

source "$(dirname "$0")/bench-lib.sh"
HOLD=200
SECS=10
SERVERS="mailroom mailroom-lite dovecot"
bench_options "[--messages N] [--runs R] [--hold H] [--secs S] [--servers LIST]" "$@"

build_release -p mailroom-smol -p mailroom-std -p mailroom-benches --bins
[[ -x $BIN/imap-load ]] || { echo "missing $BIN/imap-load" >&2; exit 1; }
IMAPTEST=${IMAPTEST:-$(command -v imaptest || true)}
[[ -n $IMAPTEST ]] || echo "imaptest is not installed; skipping the stress runs" >&2

dovecot_check /usr/lib/dovecot/imap dovecot-imapd
scratch_with_cleanup mailroom-imapbench

PORT=$(free_port)
D=$SCRATCH/data
PASSWORD=load-secret-1
FULL=100

say "setting up $D: 10 mailboxes x $MESSAGES messages, $HOLD empty ones, $HOLD of $FULL messages (4096 octets each)"
"$BIN/mailroom" init --data "$D" --domain example.com --admin-password bench-admin-1 >/dev/null
python3 - "$D/mailroom.toml" "$PORT" <<'PY'
import re, sys
path, port = sys.argv[1], sys.argv[2]
text = open(path).read()
def service(m):
    key = m.group(1)
    return f'{key} = ["127.0.0.1:{port}"]' if key == "imap" else f"{key} = []"
text = re.sub(r"(?m)^(smtp|smtps|pop3|pop3s|imap|imaps|http|pass) = .*$", service, text)
# imaptest's stress mode runs 10 clients on one account, reconnecting as it goes; the
# default of 10 connections per user and address would refuse some of them.
if re.search(r"(?m)^\[imap\]", text):
    text = re.sub(r"(?m)^\[imap\]$", "[imap]\nmax_connections_per_user = 100", text, count=1)
else:
    text += "\n[imap]\nmax_connections_per_user = 100\n"
# The memory run holds 200 connections from one address: above [limits]' defaults.
text += "\n[limits]\nmax_connections = 1000\nmax_per_client = 1000\n"
open(path, "w").write(text)
PY
USERS=()
for i in $(seq 1 10); do USERS+=("load$i"); done
for i in $(seq 1 "$HOLD"); do USERS+=("hold$i" "full$i"); done
USERS+=(stress1 stress2)
for u in "${USERS[@]}"; do
    "$BIN/mailroom" user add "$u" --password "$PASSWORD" --data "$D" >/dev/null
done
PYTHONPATH=$ROOT/scripts python3 - "$D/mail" "$MESSAGES" "$HOLD" "$FULL" <<'PY'
import os, sys
from benchlib import message
root, n, hold, full = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
boxes = [(f"load{i}", n) for i in range(1, 11)] + [(f"full{i}", full) for i in range(1, hold + 1)]
for user, count in boxes:
    new = os.path.join(root, user, "new")
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(root, user, sub), exist_ok=True)
    for k in range(count):
        head = (f"From: Sender <sender@example.net>\r\nTo: {user}@example.com\r\n"
                f"Subject: benchmark message {k}\r\nMessage-Id: <{user}.{k}@example.net>\r\n"
                "Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n\r\n")
        body = message(head, k, b"\r\n", 3900)
        with open(os.path.join(new, f"1767225600.M{k}P{user}.bench,S=4096"), "wb") as f:
            f.write(body)
PY
for u in "${USERS[@]}"; do mkdir -p "$D/mail/$u/new" "$D/mail/$u/cur" "$D/mail/$u/tmp"; done
# Stress mode appends from an mbox whose Message-IDs are unique; the shared imaptest
# tools (beside imaptest's sources, see .ci/run) make one.
MBOX=$SCRATCH/stress.mbox
if [[ -n $IMAPTEST ]]; then
    GEN=
    for d in "$ROOT/../shared/tools/imaptest" /work/shared/tools/imaptest; do
        [[ -f $d/gen-mbox.py ]] && GEN=$d/gen-mbox.py && break
    done
    if [[ -n $GEN ]]; then
        python3 "$GEN" "$MBOX" 300 >/dev/null
    else
        echo "gen-mbox.py (shared imaptest tools) not found; skipping the stress runs" >&2
        IMAPTEST=
    fi
fi

if wants dovecot; then
    DV=$SCRATCH/dovecot
    mkdir -p "$DV/run" "$DV/state"
    DPORT=$(free_port)
    # The same argon2id hash Mailroom keeps for stress1 (its cost parameters included).
    mr_hash=$(grep -hoE '\$argon2id\$[^"[:space:]]+' "$D/users/stress1.toml" 2>/dev/null | head -1 || true)
    # Every account gets the argon2id hash Mailroom stored for it (DOVECOT_PASSWORDS=plain:
    # the password in clear instead), so both servers pay the same for each login.
    {
        for u in "${USERS[@]}"; do
            h=
            [[ ${DOVECOT_PASSWORDS:-argon2} == plain ]] ||
                h=$(grep -hoE '\$argon2id\$[^"[:space:]]+' "$D/users/$u.toml" | head -1 || true)
            if [[ -n $h ]]; then echo "$u:{ARGON2ID}$h"; else echo "$u:{PLAIN}$PASSWORD"; fi
        done
        echo "stress3:{PLAIN}$PASSWORD"
    } >"$DV/passwd"
    {
        dovecot_conf "$DV" imap
        cat <<EOF2
instance_name = mailroom-imapbench
first_valid_uid = 1
# Mailroom remembers recent successful logins (services/passwords.rs); Dovecot's
# equivalent is off by default: on here, so both sides pay one hash per user.
auth_cache_size = 10M
auth_cache_ttl = 1 hour
mail_location = maildir:$D/mail/%u
passdb {
  driver = passwd-file
  args = username_format=%u $DV/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$D/mail/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $DPORT
  }
  inet_listener imaps {
    port = 0
  }
}
protocol imap {
  mail_max_userip_connections = 1000
}
EOF2
    } >"$DV/dovecot.conf"
    echo "stress4:$(doveadm -c "$DV/dovecot.conf" pw -s ARGON2ID -p "$PASSWORD")" >>"$DV/passwd"
    if [[ -n $mr_hash ]]; then
        echo "stress5:{ARGON2ID}$mr_hash" >>"$DV/passwd"
    else
        echo "Mailroom's stored argon2id hash not found; no stress run with its parameters" >&2
    fi
    # Dovecot's processes run as its own users and nobody; they must reach the files,
    # and its mail processes write their index into each Maildir.
    chmod 755 "$SCRATCH" "$D" "$D/mail"
    chmod 644 "$DV/passwd"
    chown -R nobody:nogroup "$D/mail"
fi

# The server's processes: the one, or Dovecot's master and all its children.
procs() {
    if [[ $1 == dovecot ]]; then
        ps -eo pid=,ppid= | awk -v m="$PID" '$1==m || $2==m {print $1}'
    else
        echo "$PID"
    fi
}
# Resident and proportional kB of the server's processes: "RSS PSS".
mem() {
    local p rss=0 pss=0 r s
    for p in $(procs "$1"); do
        r=$(awk '/^Rss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
        s=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
        rss=$((rss + ${r:-0}))
        pss=$((pss + ${s:-0}))
    done
    echo "$rss $pss"
}
load() { "$BIN/imap-load" --server "127.0.0.1:$PORT_OF" --user 'load%' --password "$PASSWORD" --time-limit 300 "$@"; }

RESULTS=$SCRATCH/results
retrieval_rounds 30 10

STRESS=$SCRATCH/stress
: >"$STRESS"
if [[ -n $IMAPTEST ]]; then
    say "imaptest stress, $SECS s, 10 clients"
    for s in $SERVERS; do
        case $s in
            mailroom) runs="mailroom:stress1" ;;
            mailroom-lite) runs="mailroom-lite:stress2" ;;
            dovecot) runs="dovecot-plain:stress3 dovecot-argon2-64m:stress4"
                [[ -z ${mr_hash:-} ]] || runs+=" dovecot-argon2-19m:stress5" ;;
        esac
        start "$s"
        for r in $runs; do
            out=$SCRATCH/imaptest-${r%%:*}.out
            "$IMAPTEST" host=127.0.0.1 port="$PORT_OF" user="${r#*:}" pass="$PASSWORD" \
                mbox="$MBOX" secs="$SECS" >"$out" 2>&1 || true
            python3 - "$out" "${r%%:*}" "$SECS" <<'PY' | tee -a "$STRESS"
import sys
path, name, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
lines = open(path, errors="replace").read().splitlines()
errors = sum(1 for l in lines if "Error" in l)
tot = None
for i, l in enumerate(lines):
    if l.startswith("Totals:"):
        names = lines[i + 1].split()
        for l2 in lines[i + 2:]:
            f = l2.split()
            if f and all(x.isdigit() for x in f[:len(names)]) and len(f) >= len(names):
                tot = dict(zip(names, map(int, f)))
                break
if tot is None:
    print(f"{name} no-totals errors={errors}")
else:
    ops = sum(tot.values())
    print(f"{name} ops={ops} ops_per_s={ops / secs:.0f} logins_per_s={tot.get('Logi', 0) / secs:.1f} errors={errors}")
PY
        done
        stop
    done
fi

say "logins per second (connect, LOGIN, LOGOUT), $SECS s per figure"
LOGINS=$SCRATCH/logins
: >"$LOGINS"
for run in $(seq 1 "$RUNS"); do
    for s in $SERVERS; do
        start "$s"
        for c in 1 10; do
            out=$(load --clients "$c" --sessions 100000 --time-limit "$SECS" --logins-only)
            echo "$s clients=$c run=$run $out" | tee -a "$LOGINS"
            # Dovecot's cache keeps the hash, not the outcome: every login verifies
            # argon2id again. Its protocol cost alone, with a clear-text password:
            if [[ $s == dovecot ]]; then
                out=$(load --clients "$c" --sessions 100000 --time-limit "$SECS" --logins-only --user stress3)
                echo "dovecot-plain clients=$c run=$run $out" | tee -a "$LOGINS"
            fi
        done
        stop
    done
done

say "memory per idle IMAP session ($HOLD sessions logged in, INBOX selected)"
MEM=$SCRATCH/memory
: >"$MEM"
for s in $SERVERS; do
    for box in hold full; do
        start "$s"
        sleep 1
        read -r before before_pss < <(mem "$s")
        held=$SCRATCH/held.out
        "$BIN/imap-load" --server "127.0.0.1:$PORT_OF" --user "$box%" --password "$PASSWORD" \
            --clients "$HOLD" --hold 8 >"$held" &
        loader=$!
        for _ in $(seq 1200); do
            grep -q holding= "$held" && break
            kill -0 "$loader" 2>/dev/null || break
            sleep 0.1
        done
        sleep 3
        read -r during during_pss < <(mem "$s")
        grep -q holding= "$held" || echo "$s: the sessions did not all open" >&2
        wait "$loader" || true
        stop
        echo "$s box=$box before=$before during=$during per_session=$(((during - before) / HOLD)) pss_before=$before_pss pss_during=$during_pss pss_per_session=$(((during_pss - before_pss) / HOLD))" | tee -a "$MEM"
    done
done

say "IMAP FETCH of whole 4096-octet messages, median of $RUNS runs"
PYTHONPATH=$ROOT/scripts python3 - "$RESULTS" "$MEM" "$STRESS" "$HOLD" "$LOGINS" <<'PY'
import sys
from benchlib import retrieval_table, logins_table
retrieval_table(sys.argv[1])
print()
logins_table(sys.argv[5])
print()
for line in open(sys.argv[3]):
    print("stress " + line.rstrip())
print()
for line in open(sys.argv[2]):
    s, *kv = line.split()
    d = dict(x.split("=") for x in kv)
    what = "empty INBOX" if d["box"] == "hold" else "INBOX of 100"
    print(f"{s:<15} {what}: RSS {d['before']} kB idle, {d['during']} kB with {sys.argv[4]} sessions: "
          f"{d['per_session']} kB per session; PSS {d['pss_before']} -> {d['pss_during']} kB: "
          f"{d['pss_per_session']} kB per session")
PY
