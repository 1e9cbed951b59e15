"""The APNs client against the local HTTP/2 fake: the TLS client certificate is really checked,
and APNs answers map to "device gone", "retry later" or "give up"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tessera.core.settings import DEVELOPMENT_PASS_TYPE, DEVELOPMENT_TEAM
from tessera.outbox.service import GiveUp, RetryLater
from tessera.wallet.apple.apns import ApnsClient, DeviceGone
from tessera.wallet.apple.dev_certificates import DevelopmentCertificates, make_development_certificates
from tests.fakes.apns import FakeApns, running_fake_apns
from tests.support.tls import ServerCertificate, make_server_certificate

TOKEN = "ab" * 32


@pytest.fixture(scope="module")
def server_certificate(tmp_path_factory: pytest.TempPathFactory) -> ServerCertificate:
    return make_server_certificate(tmp_path_factory.mktemp("apns-tls"))


@pytest.fixture
def fake(
    server_certificate: ServerCertificate, pass_certificates: DevelopmentCertificates
) -> Iterator[FakeApns]:
    with running_fake_apns(server_certificate, pass_certificates.wwdr_path) as running:
        yield running


def client(fake: FakeApns, certificates: DevelopmentCertificates) -> ApnsClient:
    return ApnsClient(
        fake.url,
        cert_path=certificates.cert_path,
        key_path=certificates.key_path,
        key_password=None,
        topic=DEVELOPMENT_PASS_TYPE,
        ca_path=fake.ca_path,
    )


async def test_a_push_is_http2_with_topic_and_empty_body(
    fake: FakeApns, pass_certificates: DevelopmentCertificates
) -> None:
    apns = client(fake, pass_certificates)
    try:
        await apns.push(TOKEN)
    finally:
        await apns.aclose()
    (push,) = fake.pushes
    assert (push.token, push.topic, push.body, push.http_version) == (
        TOKEN,
        DEVELOPMENT_PASS_TYPE,
        b"{}",
        "2",
    )


async def test_a_certificate_from_another_ca_is_refused(fake: FakeApns, tmp_path: Path) -> None:
    stranger = make_development_certificates(tmp_path, DEVELOPMENT_PASS_TYPE, DEVELOPMENT_TEAM)
    apns = client(fake, stranger)
    try:
        with pytest.raises(RetryLater, match="unreachable"):
            await apns.push(TOKEN)
    finally:
        await apns.aclose()
    assert fake.pushes == []


@pytest.mark.parametrize(
    ("status", "reason", "outcome"),
    [
        (410, "Unregistered", DeviceGone),
        (400, "BadDeviceToken", DeviceGone),
        (429, "TooManyRequests", RetryLater),
        (503, "ServiceUnavailable", RetryLater),
        (413, "PayloadTooLarge", GiveUp),
    ],
)
async def test_answers_map_to_outcomes(
    fake: FakeApns,
    pass_certificates: DevelopmentCertificates,
    status: int,
    reason: str,
    outcome: type[Exception],
) -> None:
    fake.answers[TOKEN] = (status, reason)
    apns = client(fake, pass_certificates)
    try:
        with pytest.raises(outcome):
            await apns.push(TOKEN)
    finally:
        await apns.aclose()


async def test_a_malformed_token_is_gone_without_a_request(
    fake: FakeApns, pass_certificates: DevelopmentCertificates
) -> None:
    apns = client(fake, pass_certificates)
    try:
        with pytest.raises(DeviceGone):
            await apns.push("../../etc")
    finally:
        await apns.aclose()
    assert fake.pushes == []
