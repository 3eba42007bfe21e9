#!/usr/bin/env python3
"""Send one message with Python's smtplib, as a mail client would.

usage: send_smtplib.py HOST PORT --from ADDR --to ADDR --message FILE
                       [--user U --password P] [--starttls --cafile PEM]

The message file is sent as bytes, unchanged (smtplib dot-stuffs it). With --user, AUTH
PLAIN is used explicitly (smtplib.login would pick whichever mechanism it prefers). With
--starttls, the server's certificate must verify against --cafile and the host name.
Exit status 0 and "sent" on stdout when the server accepted the message; otherwise
the error on stderr and status 1.
"""
import argparse
import smtplib
import ssl
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--from", dest="sender", required=True)
    p.add_argument("--to", required=True)
    p.add_argument("--message", required=True)
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--starttls", action="store_true")
    p.add_argument("--cafile")
    a = p.parse_args()

    with open(a.message, "rb") as f:
        message = f.read()

    with smtplib.SMTP(a.host, a.port, local_hostname="client.example.com", timeout=60) as s:
        s.ehlo()
        if a.starttls:
            if not s.has_extn("starttls"):
                raise SystemExit("the server does not offer STARTTLS")
            ctx = ssl.create_default_context(cafile=a.cafile)
            s.starttls(context=ctx)
            s.ehlo()
        if a.user:
            s.user, s.password = a.user, a.password
            code, resp = s.auth("PLAIN", s.auth_plain, initial_response_ok=True)
            if code != 235:
                raise SystemExit(f"AUTH PLAIN failed: {code} {resp!r}")
        refused = s.sendmail(a.sender, [a.to], message)
        if refused:
            raise SystemExit(f"recipients refused: {refused!r}")
    print("sent")


if __name__ == "__main__":
    try:
        main()
    except (smtplib.SMTPException, OSError, ssl.SSLError) as e:
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
