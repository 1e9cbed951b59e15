"""Mail merges that are sent (``deliver: true``): a real SMTP server and a signed message webhook
started by the tests receive what the merge's job queues and the outbox hands them; the progress
view counts queued, sent and failed messages; a repeat sends nothing twice; a job stopped
mid-merge and taken up by another process messages every recipient once by message id. On
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tessera.app import create_app
from tessera.core.settings import MessageSettings, Settings, WorkerSettings
from tessera.mailmerge.jobs import MergeJobs
from tessera.mailmerge.services import MergePlan
from tests.fakes.messages import FakeMessageWebhook
from tests.fakes.smtp import FakeSmtpServer
from tests.support.api import Api, Headers, problem
from tests.support.mail_merge import lines_of, merge, published_spring_campaign

MAIL_FROM = "Tessera Coupons <coupons@shop.example>"


@pytest.fixture
def settings(settings: Settings, smtp: FakeSmtpServer, webhook: FakeMessageWebhook) -> Settings:
    return replace(
        settings,
        messages=MessageSettings(
            webhook_url=webhook.url, webhook_secret=webhook.secret, smtp_url=smtp.url, mail_from=MAIL_FROM
        ),
        # Jobs are resumed at start-up only: a stopped job stays stopped until another app starts.
        worker=WorkerSettings(
            embedded=True, poll_seconds=0.02, jobs_every_seconds=3600, max_attempts=3, retry_base_seconds=10
        ),
    )


def jobs_of(api: Api) -> MergeJobs:
    jobs: MergeJobs = api.client.app.state.services.mail_merge_jobs  # type: ignore[attr-defined]
    return jobs


async def deliver(api: Api, recipients: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    response = await merge(api, recipients, deliver=True, **fields)
    assert response.status_code == 202, response.text
    view: dict[str, Any] = response.json()
    assert view["progress_url"] == f"/api/mail-merges/{view['id']}"
    return view


async def progress(api: Api, view: dict[str, Any]) -> dict[str, Any]:
    response = await api.client.get(view["progress_url"], headers=await api.marketer())
    assert response.status_code == 200, response.text
    shown: dict[str, Any] = response.json()
    return shown


async def until_progress(api: Api, view: dict[str, Any], condition: Any, what: str) -> dict[str, Any]:
    for _ in range(750):
        shown = await progress(api, view)
        if condition(shown):
            return shown
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}: {shown}")


async def mails_to(smtp: FakeSmtpServer, address: str, count: int = 1) -> list[EmailMessage]:
    return await asyncio.to_thread(smtp.wait_for, address, count)


def parts(mail: EmailMessage) -> tuple[str, str]:
    text, html = mail.get_body(("plain",)), mail.get_body(("html",))
    assert text is not None
    assert html is not None
    # As received over SMTP: lines end with CRLF.
    return str(text.get_content()).replace("\r\n", "\n"), str(html.get_content()).replace("\r\n", "\n")


async def test_a_delivered_e_mail_merge_arrives_as_mime_with_the_code_in_both_parts(
    api: Api, smtp: FakeSmtpServer, webhook: FakeMessageWebhook
) -> None:
    await published_spring_campaign(api)
    anna, _ = await api.customer(email="anna@example.com", name="Anna", tags=["newsletter"])
    bela, _ = await api.customer(email="bela@example.com", name="Béla", tags=["newsletter"])
    await api.customer(email="no@example.com", tags=["newsletter"], marketing=False)
    recipients = [
        {"customer_id": anna},
        {"email": "nobody@example.com"},
        {"email": "BELA@example.com"},
        {"email": "no@example.com"},
        {"customer_id": anna},  # listed twice: one message
    ]
    started = await deliver(api, recipients)
    assert (started["status"], started["recipients"], started["channel"]) == ("running", 5, "email")

    done = await until_progress(api, started, lambda v: v["status"] == "done", "the merge sent")
    assert done["processed"] == done["recipients"] == 5
    assert done["messages"] == 2
    assert done["issued"] == 2
    assert done["problems"] == {"duplicate_recipient": 1, "no_marketing_consent": 1, "unknown_recipient": 1}
    assert done["delivery"] == {"queued": 0, "sent": 2, "failed": 0}
    assert done["failed_reasons"] == []
    assert await api.sql("SELECT recipients FROM mail_merge_jobs") in ([("[]",)], [([],)])

    # The streamed merge of the same message shows the codes the e-mails carry (issuing none).
    streamed = lines_of(await merge(api, recipients))
    assert streamed[-1]["issued"] == 0
    code_of = {
        line["to"]: line["coupons"][0]["code_display"] for line in streamed if line["type"] == "message"
    }
    (mail_anna,) = await mails_to(smtp, "anna@example.com")
    (mail_bela,) = await mails_to(smtp, "bela@example.com")
    for mail, address, index, name in (
        (mail_anna, "anna@example.com", 0, "Anna"),
        (mail_bela, "bela@example.com", 2, "Béla"),
    ):
        assert mail["Message-ID"] == f"<merge-{started['id']}-{index}@shop.example>"
        assert mail["Subject"] == f"{name}, your code {code_of[address]}"
        assert mail.get_content_type() == "multipart/alternative"
        text, html = parts(mail)
        assert code_of[address] in text
        assert code_of[address] in html
        assert text.startswith(f"Hi {name}! Code {code_of[address]}")
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert mail["List-Unsubscribe"].strip().startswith(f"<{api.settings.public_url}/unsubscribe/")
    assert len(smtp.delivered) == 2
    assert webhook.received == []  # e-mail went over SMTP only
    notified = await api.sql(
        "SELECT customer_id, channel FROM events WHERE type = 'notified' ORDER BY customer_id"
    )
    assert [tuple(row) for row in notified] == [(anna, "email"), (bela, "email")]

    # One click on Anna's unsubscribe link (RFC 8058's POST) withdraws her marketing consent.
    link = mail_anna["List-Unsubscribe"].strip().strip("<>").removeprefix(api.settings.public_url)
    clicked = await api.client.post(
        link,
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert clicked.status_code == 200, clicked.text
    consent = await api.sql(
        "SELECT id, marketing_consent FROM customers WHERE id IN (:a, :b) ORDER BY id", a=anna, b=bela
    )
    assert [tuple(row) for row in consent] == [(anna, False), (bela, True)]

    # The same request again answers the same job and queues nothing; another one is refused.
    again = await deliver(api, recipients)
    assert again["id"] == started["id"]
    assert again["delivery"] == {"queued": 0, "sent": 2, "failed": 0}
    assert await api.sql("SELECT count(*) FROM outbox WHERE topic = 'merge_message'") == [(2,)]
    assert await api.sql("SELECT count(*) FROM coupons WHERE origin = 'message:june-newsletter'") == [(2,)]
    changed = await merge(api, recipients[:1], deliver=True)
    body = problem(changed, 409, "message_id_in_use")
    assert body["progress_url"] == started["progress_url"]
    assert len(smtp.delivered) == 2
    problem(
        await api.client.get("/api/mail-merges/999", headers=await api.marketer()),
        404,
        "mail_merge_not_found",
    )


async def test_an_html_merge_sends_its_html_and_a_plain_text_alternative(
    api: Api, smtp: FakeSmtpServer
) -> None:
    await published_spring_campaign(api)
    ada, _ = await api.customer(email="ada@example.com", name="Ada <& Co>", tags=["newsletter"])
    template = {
        "subject": "{{name}}: {{coupon:spring-20}}",
        "body": (
            "<html><head><style>p {color: red}</style></head><body><p>Hello {{name}},</p>"
            "<p>your code is <b>{{coupon:spring-20}}</b>.<br>"
            '<a href="{{wallet_link:spring-20}}">Add it to your wallet</a></p></body></html>'
        ),
        "format": "html",
    }
    started = await deliver(api, [{"customer_id": ada}], template=template, message_id="html-news")
    await until_progress(api, started, lambda v: v["status"] == "done", "the merge sent")
    (mail,) = await mails_to(smtp, "ada@example.com")
    streamed = lines_of(await merge(api, [{"customer_id": ada}], template=template, message_id="html-news"))
    code, wallet = streamed[0]["coupons"][0]["code_display"], streamed[0]["coupons"][0]["wallet_link"]
    assert mail["Subject"] == f"Ada <& Co>: {code}"  # a header is plain text: nothing escaped
    text, html = parts(mail)
    assert html.strip() == streamed[0]["body"].strip()
    assert "Hello Ada &lt;&amp; Co&gt;," in html
    assert text.strip() == f"Hello Ada <& Co>,\n\nyour code is {code}.\nAdd it to your wallet ({wallet})"


async def test_an_sms_merge_goes_to_the_webhook_with_the_code(api: Api, webhook: FakeMessageWebhook) -> None:
    await published_spring_campaign(api)
    cleo, _ = await api.customer(
        phone="+36301234567", email="cleo@example.com", name="Cleo", tags=["newsletter"]
    )
    template = {"body": "{{name}}: {{coupon:spring-20}} {{coupon_url:spring-20}}"}
    started = await deliver(api, [{"phone": "+36301234567"}], channel="sms", template=template)
    done = await until_progress(api, started, lambda v: v["status"] == "done", "the merge sent")
    assert done["delivery"] == {"queued": 0, "sent": 1, "failed": 0}
    (message,) = webhook.messages_to("+36301234567")
    streamed = lines_of(await merge(api, [{"customer_id": cleo}], channel="sms", template=template))
    assert message["text"] == streamed[0]["body"]
    assert streamed[0]["coupons"][0]["code_display"] in message["text"]
    assert (message["id"], message["channel"], message["kind"]) == (
        f"merge-{started['id']}-0",
        "sms",
        "mail_merge",
    )
    assert "html" not in message
    assert "unsubscribe_url" not in message
    assert webhook.headers[0]["x-tessera-message-id"] == message["id"]


async def test_progress_counts_queued_sent_and_failed_with_the_servers_words(
    api: Api, smtp: FakeSmtpServer
) -> None:
    await published_spring_campaign(api)
    for name in ("ok", "busy", "gone"):
        await api.customer(email=f"{name}@example.com", tags=["newsletter"])
    smtp.answers["busy@example.com"] = "450 4.2.1 Mailbox busy, try later"
    smtp.answers["gone@example.com"] = "550 5.1.1 No such user"
    recipients = [{"email": f"{name}@example.com"} for name in ("ok", "busy", "gone")]
    started = await deliver(api, recipients)

    tried = await until_progress(
        api, started, lambda v: v["delivery"]["sent"] + v["delivery"]["failed"] == 2, "two deliveries settled"
    )
    assert tried["status"] == "running"  # one message waits to be tried again
    assert tried["delivery"] == {"queued": 1, "sent": 1, "failed": 1}
    (reason,) = tried["failed_reasons"]
    assert reason["count"] == 1
    assert "550 5.1.1 No such user" in reason["reason"]

    del smtp.answers["busy@example.com"]
    api.clock.advance(timedelta(minutes=5))  # past the deferral's backoff
    done = await until_progress(api, started, lambda v: v["status"] == "done", "the deferred message sent")
    assert done["delivery"] == {"queued": 0, "sent": 2, "failed": 1}
    assert {address for item in smtp.delivered for address in item.recipients} == {
        "ok@example.com",
        "busy@example.com",
    }


class Stalling:
    """The job's chunks: ``chunks`` of them written, then one more whose commit the job never
    hears of (its process dies right after it); every later one hangs until cancelled."""

    def __init__(self, jobs: MergeJobs, chunks: int) -> None:
        self._inner = jobs._chunk
        self._left = chunks
        self.stalled = False

    async def __call__(self, job_id: int, plan: MergePlan, start: int, end: int) -> int | None:
        self._left -= 1
        if self._left == -1:
            await self._inner(job_id, plan, start, end)
            self.stalled = True
        if self._left < 0:
            await asyncio.Event().wait()
        return await self._inner(job_id, plan, start, end)


async def test_a_merge_stopped_mid_way_resumes_in_a_new_process_and_messages_everyone_once(
    api: Api, settings: Settings, smtp: FakeSmtpServer
) -> None:
    await published_spring_campaign(api)
    customers = [(await api.customer(email=f"r{i}@example.com", tags=["newsletter"]))[0] for i in range(9)]
    await api.customer(email="late@example.com", tags=["newsletter"], marketing=False)
    recipients = [{"customer_id": c} for c in customers[:5]]
    recipients += [{"email": "late@example.com"}] + [{"customer_id": c} for c in customers[5:]]
    jobs = jobs_of(api)
    jobs.chunk = 2
    stalling = Stalling(jobs, chunks=2)
    jobs._chunk = stalling  # type: ignore[method-assign]  # the crash is simulated at the chunk

    started = await deliver(api, recipients)
    for _ in range(500):
        if stalling.stalled:
            break
        await asyncio.sleep(0.01)
    assert stalling.stalled
    api.client.blocking_portal.call(jobs.stop)  # type: ignore[attr-defined]
    halfway = await progress(api, started)
    assert (halfway["status"], halfway["processed"], halfway["messages"]) == ("running", 6, 5)
    assert halfway["problems"] == {"no_marketing_consent": 1}

    marketer: Headers = await api.marketer()
    # Another process starts: it takes the job up after the last chunk that committed.
    async with AsyncTestClient(app=create_app(settings, api.clock)) as restarted:
        for _ in range(750):
            shown = (await restarted.get(started["progress_url"], headers=marketer)).json()
            if shown["status"] == "done":
                break
            await asyncio.sleep(0.02)
    assert (shown["processed"], shown["messages"], shown["issued"]) == (10, 9, 9)
    assert shown["delivery"] == {"queued": 0, "sent": 9, "failed": 0}

    # A worker that died after handing a message off, before recording it: its lease runs out
    # and the message goes again, with the same Message-ID, which the receiver drops.
    first = await api.sql("SELECT min(id) FROM outbox WHERE topic = 'merge_message'")
    await api.sql(
        "UPDATE outbox SET delivered_at = NULL, claimed_until = NULL WHERE id = :id", id=first[0][0]
    )
    await asyncio.to_thread(smtp.wait_for, "r0@example.com", 2)

    by_id: dict[str, set[str]] = {}
    for item in smtp.delivered:
        by_id.setdefault(item.message["Message-ID"], set()).update(item.recipients)
    expected_ids = {f"<merge-{started['id']}-{index}@shop.example>" for index in (0, 1, 2, 3, 4, 6, 7, 8, 9)}
    assert set(by_id) == expected_ids
    assert sorted(address for addresses in by_id.values() for address in addresses) == sorted(
        f"r{i}@example.com" for i in range(9)
    )
    repeats = Counter(item.message["Message-ID"] for item in smtp.delivered)
    assert sorted(repeats.values()) == [1] * 8 + [2]
    holdings = await api.sql(
        "SELECT customer_id, count(*) FROM coupons WHERE origin = :origin GROUP BY customer_id",
        origin="message:june-newsletter",
    )
    assert dict(holdings) == dict.fromkeys(customers, 1)
    assert await api.sql("SELECT count(*) FROM mail_merge_messages") == [(9,)]


async def test_two_runs_of_one_job_at_once_queue_each_message_once(api: Api, smtp: FakeSmtpServer) -> None:
    """The claim keeps a job to one run; were two at it anyway, each chunk's conditional cursor
    move and the one message per (merge, customer) keep every message queued once."""
    await published_spring_campaign(api)
    customers = [(await api.customer(email=f"t{i}@example.com", tags=["newsletter"]))[0] for i in range(7)]
    jobs = jobs_of(api)
    jobs.chunk = 2
    jobs.run_in_background = lambda job_id: None  # type: ignore[method-assign]  # the test runs it
    started = await deliver(api, [{"customer_id": c} for c in customers])

    async def twice() -> None:
        await asyncio.gather(jobs.run(started["id"]), jobs.run(started["id"]))

    api.client.blocking_portal.call(twice)  # type: ignore[attr-defined]
    done = await until_progress(api, started, lambda v: v["status"] == "done", "the merge sent")
    assert (done["processed"], done["messages"], done["issued"]) == (7, 7, 7)
    assert await api.sql("SELECT count(*) FROM outbox WHERE topic = 'merge_message'") == [(7,)]
    ids = Counter(item.message["Message-ID"] for item in smtp.delivered)
    assert ids == Counter({f"<merge-{started['id']}-{index}@shop.example>": 1 for index in range(7)})
