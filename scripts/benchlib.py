"""Python helpers of scripts/bench-*.sh (their inline Python finds it on PYTHONPATH)."""

import re


def message(head, k, eol, fill_to):
    """Benchmark message K: HEAD, numbered lines up to FILL_TO octets, a line starting
    with dots, and padding to 4096 octets as sent on the wire (CRLF); with EOL b"\\n"
    the file is shorter by one CR a line."""
    body = bytearray(head.encode())
    line = 0
    while len(body) < fill_to:
        body += f"line {line:04d} of message {k} ".encode() + b"x" * 50 + eol
        line += 1
    body += b"." * 10 + b" a line starting with dots" + eol
    crs = body.count(b"\n") if eol == b"\n" else 0
    body += b"z" * (4096 - len(body) - crs - 2) + eol
    wire = len(body) + (body.count(b"\n") if eol == b"\n" else 0)
    assert wire == 4096, wire
    return bytes(body)


def grouped(path, pattern, keys=1):
    """Each line matching PATTERN adds the numbers in its groups after the first KEYS
    to the list of its key: the first group, or a tuple of the first KEYS groups."""
    rows = {}
    for line in open(path):
        m = re.match(pattern, line)
        if m:
            g = m.groups()
            key = g[0] if keys == 1 else g[:keys]
            rows.setdefault(key, []).append(tuple(float(x) for x in g[keys:]))
    return rows


def logins_table(path):
    """The median logins/s per server and client count (bench-imap.sh's login runs),
    and each server's ratio to Dovecot's at the same client count."""
    import statistics
    rows = grouped(path, r"(\S+) clients=(\d+) run=\d+ .*logins_per_s=(\d+)", keys=2)
    medians = {k: statistics.median(x[0] for x in v) for k, v in rows.items()}
    print(f"{'server':<15}{'clients':>8}{'logins/s':>10}{'vs dovecot':>12}")
    for (s, c), m in medians.items():
        base = medians.get(("dovecot", c))
        ratio = f"{m / base:.2f}x" if base else "-"
        print(f"{s:<15}{c:>8}{m:>10.0f}{ratio:>12}")


def retrieval_table(path):
    """The median messages/s and MB/s per server and client count of the retrieval
    runs (bench-pop3.sh, bench-imap.sh: `retrieval_rounds` lines)."""
    import statistics
    rows = grouped(path, r"(\S+) clients=(\d+) run=\d+ .*msg_per_s=(\d+) mb_per_s=([\d.]+)", keys=2)
    print(f"{'server':<15}{'clients':>8}{'msg/s':>10}{'MB/s':>8}")
    for (s, c), v in rows.items():
        print(f"{s:<15}{c:>8}{statistics.median(x[0] for x in v):>10.0f}{statistics.median(x[1] for x in v):>8.1f}")
