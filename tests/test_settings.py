"""Settings from TESSERA_* variables: development fills what it may, production refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from tessera.errors import ConfigurationError
from tessera.push.vapid import generate_vapid_keys
from tessera.settings import Settings
from tessera.wallet.apple.dev_certificates import DevelopmentCertificates

GOOD_SECRET = "s" * 40


def test_development_makes_throwaway_wallet_credentials_once(tmp_path: Path) -> None:
    settings = Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path)})
    assert settings.apple.cert_path is not None
    assert settings.apple.cert_path.is_file()
    assert settings.google.service_account_path is not None
    assert settings.apple.key_path is not None
    assert settings.apple.key_path.stat().st_mode & 0o077 == 0
    again = Settings.from_env({"TESSERA_DATA_DIR": str(tmp_path)})
    assert again.apple.cert_path is not None
    assert again.apple.cert_path.read_bytes() == settings.apple.cert_path.read_bytes()
    assert again.security.code_secret == settings.security.code_secret


def test_production_refuses_to_start_without_wallet_credentials(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="TESSERA_APPLE_CERT_PATH"):
        Settings.from_env(
            {
                "TESSERA_ENV": "production",
                "TESSERA_DATA_DIR": str(tmp_path),
                "TESSERA_CODE_SECRET": GOOD_SECRET,
            }
        )
    assert not (tmp_path / "wallet-dev").exists()


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
