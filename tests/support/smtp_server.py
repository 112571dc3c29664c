"""A real SMTP server for the email notifier's test: aiosmtpd on 127.0.0.1:PORT, AUTH required
(PLAIN and LOGIN built in, CRAM-MD5 added here) with one user; every accepted message is appended
to OUT as a JSON line {"from", "to", "user", "data"}. Prints "ready" once listening and stops when
its stdin closes. With CERT and KEY: STARTTLS required before anything else (and before AUTH).

usage: smtp_server.py PORT OUT USER PASSWORD [CERT KEY]
"""

import hashlib
import hmac
import json
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword

port, out_path, user, password = sys.argv[1:5]


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == user
        and auth_data.password.decode() == password
    )
    # handled=False: aiosmtpd answers 535 itself on a failure.
    return AuthResult(success=ok, handled=False, auth_data=auth_data.login.decode() if ok else None)


class Handler:
    async def auth_CRAM__MD5(self, server, args):
        challenge = b"<4711.1234567890@kafkascope-test>"
        response = await server.challenge_auth(challenge)
        if response is MISSING:
            return AuthResult(success=False, handled=False)
        name, _, digest = response.decode().partition(" ")
        want = hmac.new(password.encode(), challenge, hashlib.md5).hexdigest()
        ok = name == user and hmac.compare_digest(digest, want)
        return AuthResult(success=ok, handled=False, auth_data=name if ok else None)

    async def handle_DATA(self, server, session, envelope):
        who = session.auth_data
        if isinstance(who, LoginPassword):
            who = who.login.decode()
        record = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "user": who if isinstance(who, str) else None,
            "data": envelope.original_content.decode("utf-8", "replace"),
        }
        with open(out_path, "a") as f:
            f.write(json.dumps(record) + "\n")
        return "250 OK"


tls = {"auth_require_tls": False}
if len(sys.argv) > 6:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(sys.argv[5], sys.argv[6])
    tls = {"tls_context": context, "require_starttls": True, "auth_require_tls": True}
controller = Controller(
    Handler(),
    hostname="127.0.0.1",
    port=int(port),
    authenticator=authenticator,
    auth_required=True,
    **tls,
)
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
