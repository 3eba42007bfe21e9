#!/usr/bin/env python3
"""Fetch every message of a POP3 mailbox with Python's poplib, as a mail client would.

Writes OUTDIR/N.eml for message N (lines joined with CRLF, as received), prints one
line "N SIZE UIDL" per message, and with --delete marks them all deleted before QUIT.
"""
import argparse
import os
import poplib
import ssl
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--stls", action="store_true")
    ap.add_argument("--ssl", action="store_true", help="implicit TLS (pop3s)")
    ap.add_argument("--cafile")
    ap.add_argument("--delete", action="store_true")
    a = ap.parse_args()

    ctx = None
    if a.stls or a.ssl:
        ctx = ssl.create_default_context(cafile=a.cafile)
        ctx.check_hostname = False
    if a.ssl:
        p = poplib.POP3_SSL(a.host, a.port, context=ctx, timeout=60)
    else:
        p = poplib.POP3(a.host, a.port, timeout=60)
    if a.stls:
        p.stls(context=ctx)
    caps = p.capa()
    assert "UIDL" in caps and "TOP" in caps, caps
    p.user(a.user)
    p.pass_(a.password)
    count, total = p.stat()
    listing = [l.split() for l in p.list()[1]]
    uidls = dict(l.split() for l in p.uidl()[1])
    assert len(listing) == count, (listing, count)
    assert sum(int(s) for _, s in listing) == total
    os.makedirs(a.out, exist_ok=True)
    for num, size in listing:
        resp, lines, octets = p.retr(int(num))
        data = b"".join(l + b"\r\n" for l in lines)
        # poplib's octet count includes the stuffed dots; the size excludes them.
        assert len(data) == int(size), (num, len(data), size)
        with open(os.path.join(a.out, num.decode() + ".eml"), "wb") as f:
            f.write(data)
        print(num.decode(), size.decode(), uidls[num].decode())
        if a.delete:
            p.dele(int(num))
    p.quit()


if __name__ == "__main__":
    sys.exit(main())
