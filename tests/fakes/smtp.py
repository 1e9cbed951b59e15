"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1, in a thread of its own): it records
each message as the receiving side would parse it, can ask for STARTTLS and credentials, and
answers a chosen reply to chosen recipients (``answers``: address → "450 …" or "550 …")."""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.asgi import free_port
from tests.support.tls import make_server_certificate

# aiosmtpd logs every command at INFO: a failing test's report would drown in it.
logging.getLogger("mail.log").setLevel(logging.WARNING)
USERNAME = "tessera"
PASSWORD = "mail-password-" + "m" * 12


@dataclass
class Delivered:
    mail_from: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class FakeSmtpServer:
    host: str
    port: int
    delivered: list[Delivered] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)
    logins: list[str] = field(default_factory=list)
    ca_path: Path | None = None

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        answer = self.answers.get(address.lower())
        if answer is not None:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        self.delivered.append(Delivered(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [item.message for item in self.delivered if address in item.recipients]

    def wait_for(self, address: str, count: int = 1, timeout: float = 15.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.to(address)) >= count:
                return self.to(address)
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {count} messages to {address}: {self.to(address)}")

    def client_tls(self) -> ssl.SSLContext:
        """What a client trusts to talk to this server over TLS."""
        assert self.ca_path is not None, "started without TLS"
        return ssl.create_default_context(cafile=str(self.ca_path))


def _authenticator(fake: FakeSmtpServer) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        good = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == USERNAME
            and auth_data.password.decode() == PASSWORD
        )
        if good:
            fake.logins.append(USERNAME)
        return AuthResult(success=good, handled=False)

    return check


@contextmanager
def running_smtp_server(tls_directory: Path | None = None) -> Iterator[FakeSmtpServer]:
    """Plain SMTP; with ``tls_directory``, STARTTLS required and then LOGIN/PLAIN required."""
    port = free_port()
    fake = FakeSmtpServer("127.0.0.1", port)
    options: dict[str, Any] = {}
    if tls_directory is not None:
        certificate = make_server_certificate(tls_directory)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certificate.cert_path, certificate.key_path)
        fake.ca_path = certificate.ca_path
        options = {
            "tls_context": context,
            "require_starttls": True,
            "auth_required": True,
            "auth_require_tls": True,
            "authenticator": _authenticator(fake),
        }
    controller = Controller(fake, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield fake
    finally:
        controller.stop()
