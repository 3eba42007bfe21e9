#!/usr/bin/env python3
"""A mail client's IMAP session with Python's imaplib, every answer checked.

Expects the account to hold the messages whose tokens are given (delivered over
SMTP, oldest first) and the default folders. Over STARTTLS: LIST with SPECIAL-USE,
SELECT, FETCH of whole messages and parts, SEARCH, STORE, COPY, MOVE, APPEND, EXPUNGE,
STATUS, CREATE/RENAME/DELETE. Prints "ok" and exits 0, or fails with the reason.
"""
import argparse
import imaplib
import re
import ssl


def ok(resp):
    typ, data = resp
    assert typ == "OK", resp
    return data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--cafile", required=True)
    ap.add_argument("tokens", nargs="+")
    a = ap.parse_args()

    m = imaplib.IMAP4(a.host, a.port, timeout=60)
    assert "STARTTLS" in m.capabilities, m.capabilities
    ctx = ssl.create_default_context(cafile=a.cafile)
    ctx.check_hostname = False
    ok(m.starttls(ssl_context=ctx))
    ok(m.login(a.user, a.password))
    caps = ok(m.capability())[0].decode().upper().split()
    for cap in ("IDLE", "UIDPLUS", "MOVE", "SPECIAL-USE", "CONDSTORE", "NAMESPACE"):
        assert cap in caps, (cap, caps)

    listed = [l.decode() for l in ok(m.list())]
    for name, use in (("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Trash", "\\Trash"), ("Junk", "\\Junk")):
        assert any(f'"{name}"' in l and use in l for l in listed), (name, listed)
    assert any(l.endswith(" INBOX") for l in listed), listed

    n = len(a.tokens)
    exists = ok(m.select("INBOX"))
    assert exists == [str(n).encode()], exists

    # Whole messages, in delivery order, each carrying its token; RFC822.SIZE is
    # the size of what FETCH sends.
    data = ok(m.fetch(f"1:{n}", "(UID RFC822.SIZE BODY.PEEK[])"))
    bodies = [d for d in data if isinstance(d, tuple)]
    assert len(bodies) == n, data
    uids = []
    for (meta, body), token in zip(bodies, a.tokens):
        size = int(re.search(rb"RFC822\.SIZE (\d+)", meta).group(1))
        assert size == len(body), (size, len(body))
        assert token.encode() in body, (token, body[:200])
        uids.append(int(re.search(rb"UID (\d+)", meta).group(1)))
    assert uids == sorted(uids), uids

    # PEEK left them unseen; a plain BODY[TEXT] fetch sets \Seen.
    assert ok(m.search(None, "UNSEEN")) == [" ".join(str(i) for i in range(1, n + 1)).encode()]
    ok(m.fetch("1", "(BODY[TEXT])"))
    flags = ok(m.fetch("1", "(FLAGS)"))[0]
    assert b"\\Seen" in flags, flags
    assert ok(m.uid("SEARCH", None, f"TEXT {a.tokens[-1]}")) == [str(uids[-1]).encode()]
    assert ok(m.search(None, "FROM", "alice@example.com")) == [" ".join(str(i) for i in range(1, n + 1)).encode()]

    # Flags and keywords.
    ok(m.store("2", "+FLAGS", "(\\Flagged $Important)"))
    flags = ok(m.fetch("2", "(FLAGS)"))[0]
    assert b"\\Flagged" in flags and b"$Important" in flags, flags

    # COPY to Trash (COPYUID), MOVE to Junk.
    typ, data = m.copy("1", "Trash")
    assert typ == "OK" and b"COPYUID" in data[0], data
    typ, data = m._simple_command("MOVE", "2", "Junk")
    assert typ == "OK", (typ, data)
    status = ok(m.status("Junk", "(MESSAGES UIDNEXT)"))[0].decode()
    assert "MESSAGES 1" in status, status
    status = ok(m.status("Trash", "(MESSAGES UNSEEN)"))[0].decode()
    assert "MESSAGES 1" in status and "UNSEEN 0" in status, status

    # APPEND a draft (APPENDUID), then find it there.
    typ, data = m.append("Drafts", "(\\Draft)", None, b"Subject: draft\r\n\r\nunfinished\r\n")
    assert typ == "OK" and b"APPENDUID" in data[0], data
    ok(m.select("Drafts"))
    assert ok(m.search(None, "DRAFT")) == [b"1"]

    # Folders: create, rename, delete.
    ok(m.create("Projects/2026"))
    ok(m.rename("Projects/2026", "Projects/Done"))
    listed = [l.decode() for l in ok(m.list('""', "Projects/*"))]
    assert any('"Projects/Done"' in l for l in listed), listed
    ok(m.delete("Projects/Done"))

    # Expunge in INBOX: the moved message already went; delete the first.
    ok(m.select("INBOX"))
    ok(m.store("1", "+FLAGS", "(\\Deleted)"))
    ok(m.expunge())
    assert ok(m.select("INBOX")) == [str(n - 2).encode()]
    typ, _ = m.logout()
    assert typ == "BYE", typ
    print("ok")


if __name__ == "__main__":
    main()
