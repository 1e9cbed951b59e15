"""E-mail over SMTP: a real SMTP server started by the test (aiosmtpd on 127.0.0.1) receives
what the outbox hands it, parsed as a mail client would; the server's deferrals are tried again
and its refusals given up with its words kept. One-click unsubscribe links (RFC 8058) withdraw
marketing consent. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tessera.codes.keys import CodeKeys
from tessera.core.clock import SystemClock
from tessera.core.settings import MessageSettings, Settings, WorkerSettings
from tessera.customers.unsubscribe import UnsubscribeLinks
from tessera.messages.smtp import SmtpSender, SmtpServer
from tessera.messages.webhook import Message
from tessera.outbox.service import GiveUp
from tests.fakes.messages import FakeMessageWebhook
from tests.fakes.smtp import PASSWORD, USERNAME, FakeSmtpServer, running_smtp_server
from tests.support.api import Api, problem

MAIL_FROM = "Tessera Coupons <coupons@shop.example>"


@pytest.fixture
def settings(settings: Settings, smtp: FakeSmtpServer, webhook: FakeMessageWebhook) -> Settings:
    return replace(
        settings,
        messages=MessageSettings(
            webhook_url=webhook.url, webhook_secret=webhook.secret, smtp_url=smtp.url, mail_from=MAIL_FROM
        ),
        worker=WorkerSettings(
            embedded=True, poll_seconds=0.02, jobs_every_seconds=0.05, max_attempts=3, retry_base_seconds=10
        ),
    )


async def ask_code(api: Api, email: str) -> None:
    answer = await api.client.post("/api/auth/customer/code", json={"email": email})
    assert answer.status_code == 202, answer.text


async def until(condition: Any, what: str) -> None:
    for _ in range(750):
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def test_an_e_mail_arrives_over_smtp_as_utf8_mime_with_text_and_html(
    api: Api, smtp: FakeSmtpServer, webhook: FakeMessageWebhook
) -> None:
    await api.customer(email="anna@example.com", locale="it-IT")
    await ask_code(api, "anna@example.com")
    (mail,) = await asyncio.to_thread(smtp.wait_for, "anna@example.com")
    (delivered,) = smtp.delivered
    assert delivered.mail_from == "coupons@shop.example"
    assert mail["From"] == MAIL_FROM
    assert mail["To"] == "anna@example.com"
    assert mail["Subject"] == "Il tuo codice di accesso a Tessera"
    assert mail["Content-Language"] == "it"
    assert mail["Message-ID"].startswith("<")
    assert mail["Message-ID"].endswith("@shop.example>")
    assert mail.get_content_type() == "multipart/alternative"
    text, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert text is not None
    assert html is not None
    assert text.get_content_charset() == html.get_content_charset() == "utf-8"
    code = text.get_content().split("è ")[1][:6]
    assert code.isdigit()
    assert code in html.get_content()
    # A sign-in code is no marketing: no unsubscribe headers.
    assert mail["List-Unsubscribe"] is None
    # The e-mail went over SMTP only, not also to the webhook.
    assert webhook.received == []
    login = await api.client.post(
        "/api/auth/customer/login", json={"email": "anna@example.com", "code": code}
    )
    assert login.status_code == 200, login.text


async def test_a_deferral_is_tried_again_and_a_refusal_given_up_with_the_servers_words(
    api: Api, smtp: FakeSmtpServer
) -> None:
    smtp.answers["busy@example.com"] = "450 4.2.1 Mailbox busy, try later"
    smtp.answers["gone@example.com"] = "550 5.1.1 No such user"
    await api.customer(email="busy@example.com")
    await api.customer(email="gone@example.com")
    await ask_code(api, "busy@example.com")
    await ask_code(api, "gone@example.com")

    async def both_tried() -> bool:
        rows = await api.sql("SELECT count(*) FROM outbox WHERE last_error IS NOT NULL")
        return bool(rows[0][0] == 2)

    await until(both_tried, "both deliveries tried")
    rows = await api.sql(
        "SELECT target, attempts, delivered_at, failed_at, last_error FROM outbox "
        "WHERE topic = 'sign_in_code' ORDER BY id"
    )
    busy, gone = rows
    assert busy[2] is None
    assert busy[3] is None
    assert "450 4.2.1 Mailbox busy" in busy[4]
    assert gone[2] is None
    assert gone[3] is not None
    assert "550 5.1.1 No such user" in gone[4]
    assert smtp.delivered == []


async def test_starttls_and_credentials_are_used_and_wrong_ones_refused(tmp_path: Path) -> None:
    message = Message("m-1", "bela@example.com", "email", "offer", "en", "Hello", "Code ABC")
    with running_smtp_server(tmp_path / "tls") as smtp:
        server = SmtpServer.from_url(f"smtp://{USERNAME}:{PASSWORD}@127.0.0.1:{smtp.port}")
        sender = SmtpSender(server, MAIL_FROM, SystemClock(), tls_context=smtp.client_tls())
        try:
            await sender.send(message)
            await sender.send(replace_id(message, "m-2"))
        finally:
            await sender.aclose()
        assert [item.message["Message-ID"] for item in smtp.delivered] == [
            "<m-1@shop.example>",
            "<m-2@shop.example>",
        ]
        assert smtp.logins == [USERNAME]  # one connection, reused

        wrong = SmtpServer.from_url(f"smtp://{USERNAME}:wrong@127.0.0.1:{smtp.port}")
        refused = SmtpSender(wrong, MAIL_FROM, SystemClock(), tls_context=smtp.client_tls())
        try:
            with pytest.raises(GiveUp, match="535"):
                await refused.send(message)
        finally:
            await refused.aclose()
    assert len(smtp.delivered) == 2


def replace_id(message: Message, message_id: str) -> Message:
    return Message(
        message_id, message.to, message.channel, message.kind, message.locale, message.subject, message.text
    )


def unsubscribe_url(settings: Settings, customer_id: int) -> str:
    links = UnsubscribeLinks(CodeKeys(settings.security.code_secret), settings.public_url)
    return links.url(customer_id).removeprefix(settings.public_url)


async def test_one_click_unsubscribe_withdraws_marketing_consent_once_with_source_email(api: Api) -> None:
    anna_id, _ = await api.customer(email="anna@example.com")
    bela_id, _ = await api.customer(email="bela@example.com")
    url = unsubscribe_url(api.settings, anna_id)

    page = await api.client.get(url, headers={"Accept-Language": "it-IT,it;q=0.9"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<form method="post">' in page.text
    assert "Annulla l&#x27;iscrizione" in page.text
    assert "form-action 'self'" in page.headers["content-security-policy"]
    # Looking at the page (as a mail scanner does) changes nothing.
    assert await api.sql("SELECT id, marketing_consent FROM customers ORDER BY id") == [
        (anna_id, True),
        (bela_id, True),
    ]
    for _ in range(2):  # RFC 8058's POST, then a repeat
        done = await api.client.post(
            url,
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert done.status_code == 200, done.text
        assert "no more offers" in done.text
    assert await api.sql("SELECT id, marketing_consent FROM customers ORDER BY id") == [
        (anna_id, False),
        (bela_id, True),
    ]
    withdrawals = await api.sql(
        "SELECT customer_id, source FROM consents WHERE purpose = 'marketing' AND granted = :no",
        no=False,
    )
    assert withdrawals == [(anna_id, "email")]

    tampered = url[:-1] + ("A" if url[-1] != "A" else "B")
    problem(await api.client.post(tampered), 404, "invalid_unsubscribe_link")
    problem(await api.client.get(url + "x"), 404, "invalid_unsubscribe_link")
