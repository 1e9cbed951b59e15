"""The development kit: secrets and throwaway wallet credentials a development server may make
for itself, kept in the data directory so codes, passes and push subscriptions survive restarts.

Reading settings does no I/O; the CLI and the app factory call ``with_development_credentials``
in development only. Production never comes here: it refuses to start without its own.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from tessera.core.errors import ConfigurationError
from tessera.core.settings import Settings, is_real_secret
from tessera.push.vapid import generate_vapid_keys
from tessera.wallet.apple.dev_certificates import make_development_certificates
from tessera.wallet.google.dev_keys import make_development_service_account


def with_development_credentials(settings: Settings) -> Settings:
    """``settings`` with every missing secret and wallet credential made (or read back from
    the data directory); given ones are kept."""
    if settings.is_production:
        raise ConfigurationError("Development credentials are never made in production")
    return _with_vapid_key(_with_wallet_credentials(_with_code_secret(settings)))


def _with_code_secret(settings: Settings) -> Settings:
    if is_real_secret(settings.security.code_secret):
        return settings
    secret = kept_secret(settings.data_dir / "code_secret", lambda: secrets.token_urlsafe(48))
    return replace(settings, security=replace(settings.security, code_secret=secret))


def _with_wallet_credentials(settings: Settings) -> Settings:
    apple, google = settings.apple, settings.google
    folder = settings.data_dir / "wallet-dev"
    if not apple.configured:
        made = make_development_certificates(
            folder / "apple", apple.pass_type_identifier, apple.team_identifier
        )
        apple = replace(apple, cert_path=made.cert_path, key_path=made.key_path, wwdr_path=made.wwdr_path)
    if google.service_account_path is None:
        path = make_development_service_account(folder / "google-service-account.json")
        google = replace(google, service_account_path=path)
    return replace(settings, apple=apple, google=google)


def _with_vapid_key(settings: Settings) -> Settings:
    """Push subscriptions are bound to the public key, so it must survive restarts."""
    if settings.push.vapid_private_key:
        return settings
    key = kept_secret(settings.data_dir / "vapid_private_key", lambda: generate_vapid_keys().private_key)
    return replace(settings, push=replace(settings.push, vapid_private_key=key))


def kept_secret(path: Path, make: Callable[[], str]) -> str:
    """The secret stored at ``path``, made and stored (mode 0600) if there is none yet.

    Processes starting at once on one data directory (several servers, or uvicorn's own
    ``--workers N`` with the app factory) must end up with the same secret: each writes its
    own to a temporary file and links it into place, which only the first can do; the others
    read the winner's.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(make())
                file.flush()
                os.fsync(file.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    return path.read_text().strip()
