"""Starting several processes: they agree on the development secrets they make, and several app
processes are refused on SQLite, the one-process store."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tessera.assembly.devkit import with_development_credentials
from tessera.cli import main
from tessera.core.settings import Settings
from tessera.wallet.apple.dev_certificates import DevelopmentCertificates

STARTING_AT_ONCE = 8


@pytest.fixture
def environ(
    tmp_path: Path, pass_certificates: DevelopmentCertificates, google_service_account: Path
) -> dict[str, str]:
    """A fresh data directory and no secrets but the (slow to make) wallet credentials."""
    return {
        "TESSERA_DATA_DIR": str(tmp_path / "data"),
        "TESSERA_APPLE_CERT_PATH": str(pass_certificates.cert_path),
        "TESSERA_APPLE_KEY_PATH": str(pass_certificates.key_path),
        "TESSERA_APPLE_WWDR_PATH": str(pass_certificates.wwdr_path),
        "TESSERA_GOOGLE_SERVICE_ACCOUNT_PATH": str(google_service_account),
    }


def test_processes_starting_at_once_agree_on_the_development_secrets(environ: dict[str, str]) -> None:
    together = threading.Barrier(STARTING_AT_ONCE)

    def start() -> tuple[str, str]:
        together.wait()
        settings = with_development_credentials(Settings.from_env(environ))
        return settings.security.code_secret, settings.push.vapid_private_key

    with ThreadPoolExecutor(STARTING_AT_ONCE) as pool:
        made = set(pool.map(lambda _: start(), range(STARTING_AT_ONCE)))
    assert len(made) == 1
    data = Path(environ["TESSERA_DATA_DIR"])
    assert sorted(path.name for path in data.iterdir()) == ["code_secret", "vapid_private_key"]
    assert {(data / name).stat().st_mode & 0o777 for name in ("code_secret", "vapid_private_key")} == {0o600}
    ((code_secret, _),) = made
    again = with_development_credentials(Settings.from_env(environ))
    assert again.security.code_secret == code_secret  # kept for the next start


def test_several_app_processes_are_refused_on_sqlite(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TESSERA_DATABASE_URL", raising=False)
    assert main(["serve", "--workers", "2"]) == 2
    assert "SQLite is a one-process store" in capsys.readouterr().err
