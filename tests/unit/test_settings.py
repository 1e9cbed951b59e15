"""Settings from TESSERA_* variables: the development kit fills what development may, production
refuses to start without it."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import CapturingLogger

from tessera.assembly.devkit import with_development_credentials
from tessera.core.clock import SystemClock
from tessera.core.errors import ConfigurationError
from tessera.core.settings import Settings
from tessera.messages.senders import sender_for
from tessera.messages.smtp import SmtpSender, SmtpServer
from tessera.messages.webhook import LoggedMessages, Message, WebhookSender
from tessera.push.vapid import generate_vapid_keys
from tessera.wallet.apple.dev_certificates import DevelopmentCertificates

GOOD_SECRET = "s" * 40


def test_the_development_kit_makes_throwaway_wallet_credentials_once(tmp_path: Path) -> None:
    environ = {"TESSERA_DATA_DIR": str(tmp_path)}
    settings = with_development_credentials(Settings.from_env(environ))
    assert settings.apple.cert_path is not None
    assert settings.apple.cert_path.is_file()
    assert settings.google.service_account_path is not None
    assert settings.apple.key_path is not None
    assert settings.apple.key_path.stat().st_mode & 0o077 == 0
    again = with_development_credentials(Settings.from_env(environ))
    assert again.apple.cert_path is not None
    assert again.apple.cert_path.read_bytes() == settings.apple.cert_path.read_bytes()
    assert again.security.code_secret == settings.security.code_secret
    assert again.push.vapid_private_key == settings.push.vapid_private_key


def test_the_development_kit_keeps_given_credentials(tmp_path: Path) -> None:
    given = Settings.from_env(
        {
            "TESSERA_DATA_DIR": str(tmp_path),
            "TESSERA_CODE_SECRET": GOOD_SECRET,
            "TESSERA_VAPID_PRIVATE_KEY": (vapid := generate_vapid_keys().private_key),
        }
    )
    settings = with_development_credentials(given)
    assert (settings.security.code_secret, settings.push.vapid_private_key) == (GOOD_SECRET, vapid)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["wallet-dev"]


def test_the_development_kit_is_never_used_in_production(production: dict[str, str]) -> None:
    settings = Settings.from_env(
        {**production, "TESSERA_VAPID_PRIVATE_KEY": generate_vapid_keys().private_key}
    )
    with pytest.raises(ConfigurationError, match="never made in production"):
        with_development_credentials(settings)


def test_production_refuses_to_start_naming_every_missing_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_env({"TESSERA_ENV": "production", "TESSERA_DATA_DIR": str(tmp_path)})
    for variable in (
        "TESSERA_CODE_SECRET",
        "TESSERA_APPLE_CERT_PATH",
        "TESSERA_APPLE_KEY_PATH",
        "TESSERA_APPLE_WWDR_PATH",
        "TESSERA_GOOGLE_SERVICE_ACCOUNT_PATH",
        "TESSERA_GOOGLE_ROOT_KEYS_PATH",
        "TESSERA_VAPID_PRIVATE_KEY",
        "TESSERA_MESSAGE_WEBHOOK_URL",
    ):
        assert variable in str(refused.value)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def production(
    tmp_path: Path, pass_certificates: DevelopmentCertificates, google_service_account: Path
) -> dict[str, str]:
    """A production environment with every credential but the VAPID key."""
    keys = tmp_path / "root-keys.json"
    keys.write_text('{"keys": []}')
    return {
        "TESSERA_ENV": "production",
        "TESSERA_DATA_DIR": str(tmp_path),
        "TESSERA_CODE_SECRET": GOOD_SECRET,
        "TESSERA_APPLE_CERT_PATH": str(pass_certificates.cert_path),
        "TESSERA_APPLE_KEY_PATH": str(pass_certificates.key_path),
        "TESSERA_APPLE_WWDR_PATH": str(pass_certificates.wwdr_path),
        "TESSERA_GOOGLE_SERVICE_ACCOUNT_PATH": str(google_service_account),
        "TESSERA_GOOGLE_ROOT_KEYS_PATH": str(keys),
        "TESSERA_MESSAGE_WEBHOOK_URL": "https://messages.example.com/tessera",
        "TESSERA_MESSAGE_WEBHOOK_SECRET": "w" * 40,
    }


def test_production_takes_the_configured_credentials(
    production: dict[str, str], pass_certificates: DevelopmentCertificates
) -> None:
    settings = Settings.from_env(
        {**production, "TESSERA_VAPID_PRIVATE_KEY": generate_vapid_keys().private_key}
    )
    assert settings.apple.cert_path == pass_certificates.cert_path
    assert settings.google.root_keys_path == Path(production["TESSERA_GOOGLE_ROOT_KEYS_PATH"])


def test_production_refuses_to_start_without_vapid_keys(production: dict[str, str]) -> None:
    environment = production
    with pytest.raises(ConfigurationError, match="TESSERA_VAPID_PRIVATE_KEY"):
        Settings.from_env(environment)
    with pytest.raises(ConfigurationError, match="not a VAPID key"):
        Settings.from_env({**environment, "TESSERA_VAPID_PRIVATE_KEY": "not-a-key"})


def test_production_refuses_to_start_without_a_message_webhook(production: dict[str, str]) -> None:
    environment = {**production, "TESSERA_VAPID_PRIVATE_KEY": generate_vapid_keys().private_key}
    del environment["TESSERA_MESSAGE_WEBHOOK_URL"]
    with pytest.raises(ConfigurationError, match="Production needs these set: TESSERA_MESSAGE_WEBHOOK_URL"):
        Settings.from_env(environment)
    plain = {**environment, "TESSERA_MESSAGE_WEBHOOK_URL": "http://messages.example.com/tessera"}
    with pytest.raises(ConfigurationError, match="must be https"):
        Settings.from_env(plain)
    local = {**environment, "TESSERA_MESSAGE_WEBHOOK_URL": "http://127.0.0.1:9000/tessera"}
    assert Settings.from_env(local).messages.webhook_url == "http://127.0.0.1:9000/tessera"


def test_a_message_webhook_needs_its_secret(tmp_path: Path) -> None:
    base = {"TESSERA_DATA_DIR": str(tmp_path), "TESSERA_MESSAGE_WEBHOOK_URL": "http://127.0.0.1:9000/x"}
    for secret in ("", "changeme", "short"):
        with pytest.raises(ConfigurationError, match="TESSERA_MESSAGE_WEBHOOK_SECRET"):
            Settings.from_env({**base, "TESSERA_MESSAGE_WEBHOOK_SECRET": secret})
    with pytest.raises(ConfigurationError, match="http"):
        Settings.from_env({**base, "TESSERA_MESSAGE_WEBHOOK_URL": "ftp://example.com/x"})
    configured = Settings.from_env({**base, "TESSERA_MESSAGE_WEBHOOK_SECRET": "w" * 32})
    senders = sender_for(configured.messages, SystemClock())
    assert isinstance(senders.for_channel("email"), WebhookSender)
    assert isinstance(senders.for_channel("sms"), WebhookSender)


async def test_development_without_a_webhook_logs_each_message(tmp_path: Path) -> None:
    settings = Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path), "TESSERA_SIGN_IN_CODE_MINUTES": "5"})
    assert settings.messages.webhook_url is None
    assert settings.sign_in.code_minutes == 5
    assert isinstance(sender_for(settings.messages, SystemClock()).for_channel("email"), LoggedMessages)
    logger = CapturingLogger()
    message = Message("sign-in-1", "ada@example.com", "email", "sign_in_code", "en", "Code", "Code 123456")
    await LoggedMessages(logger).send(message)
    (call,) = logger.calls
    assert call.method_name == "warning"
    assert call.kwargs["to"] == "ada@example.com"
    assert call.kwargs["text"] == "Code 123456"


def test_e_mail_goes_over_smtp_when_a_server_is_set(tmp_path: Path) -> None:
    base = {
        "TESSERA_DATA_DIR": str(tmp_path),
        "TESSERA_MESSAGE_WEBHOOK_URL": "http://127.0.0.1:9000/x",
        "TESSERA_MESSAGE_WEBHOOK_SECRET": "w" * 32,
    }
    settings = Settings.from_env({**base, "TESSERA_SMTP_URL": "smtp://mailer:p%40ss@127.0.0.1:2525"})
    senders = sender_for(settings.messages, SystemClock())
    assert isinstance(senders.for_channel("email"), SmtpSender)
    assert isinstance(senders.for_channel("sms"), WebhookSender)
    with pytest.raises(ConfigurationError, match="TESSERA_SMTP_URL") as refused:
        Settings.from_env({**base, "TESSERA_SMTP_URL": "https://mailer:hunter2@example.com"})
    assert "hunter2" not in str(refused.value)
    with pytest.raises(ConfigurationError, match="TESSERA_MAIL_FROM"):
        Settings.from_env({**base, "TESSERA_MAIL_FROM": "coupons"})


def test_an_smtp_url_names_server_credentials_and_tls() -> None:
    plain = SmtpServer.from_url("smtp://mailer:p%40ss@mail.example.com")
    assert (plain.host, plain.port, plain.username, plain.password) == (
        "mail.example.com",
        25,
        "mailer",
        "p@ss",
    )
    assert (plain.implicit_tls, plain.start_tls) == (False, None)
    assert SmtpServer.from_url("smtp://mail.example.com:587", require_tls=True).start_tls is True
    assert SmtpServer.from_url("smtp://127.0.0.1:2525", require_tls=True).start_tls is None
    implicit = SmtpServer.from_url("smtps://mail.example.com")
    assert (implicit.port, implicit.implicit_tls, implicit.start_tls, implicit.username) == (
        465,
        True,
        False,
        None,
    )
