"""Real receivers on loopback: an HTTP server taking webhook POSTs, an SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

TOKEN = "xoxb-T0KEN-5ecret-9f8e7d"  # the webhook's token, in its path as Slack puts it


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Post:
    path: str
    body: dict


class WebhookReceiver:
    """Records each POST; answers the scripted statuses in turn (then 200), e.g. [500, 200]."""

    def __init__(self, statuses=(), port: int = 0, retry_after: str | None = None):
        self.posts: list[Post] = []
        self.statuses = list(statuses)
        self.retry_after = retry_after
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                receiver.posts.append(Post(self.path, json.loads(self.rfile.read(length))))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if status == 429 and receiver.retry_after is not None:
                    self.send_header("Retry-After", receiver.retry_after)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):  # quiet: the test asserts on what was received
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/services/T000/B000/{TOKEN}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def down_webhook_url() -> str:
    """A webhook address where nothing listens."""
    return f"http://127.0.0.1:{free_port()}/services/T000/B000/{TOKEN}"


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class _Handler:
    received: list[Mail] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.received.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


class SmtpReceiver:
    """aiosmtpd on 127.0.0.1 (no TLS); with `login`, AUTH is required and checked."""

    def __init__(self, login: tuple[str, str] | None = None):
        self.handler = _Handler()
        self.logins: list[tuple[str, bool]] = []
        options = {}
        if login:
            options = {
                "authenticator": self._authenticator(login),
                "auth_required": True,
                "auth_require_tls": False,
            }
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **options)

    def _authenticator(self, login):
        def check(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and (auth_data.login.decode(), auth_data.password.decode()) == login
            )
            self.logins.append((auth_data.login.decode(), ok))
            return AuthResult(success=ok)

        return check

    @property
    def received(self) -> list[Mail]:
        return self.handler.received

    def __enter__(self) -> SmtpReceiver:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()
