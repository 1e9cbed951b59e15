"""Every declared TESSERA_* variable is read by its declared type, refused with its name when its
value cannot be that type, and read without touching the file system."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pytest

from tessera.core.errors import ConfigurationError
from tessera.core.settings import (
    FALSE_WORDS,
    TRUE_WORDS,
    DeclaredVariable,
    Settings,
    Text,
    declared_variables,
)

REPOSITORY = Path(__file__).resolve().parents[2]
DECLARED = list(declared_variables())
# A webhook URL needs its signing secret, so every case carries one (its own case overrides it).
BASE = {"TESSERA_MESSAGE_WEBHOOK_SECRET": "w" * 40}


def other_value(kind: Any, default: Any) -> tuple[str, Any]:
    """A value of ``kind`` other than ``default``: as the variable says it, and as the field holds it."""
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        (inner,) = (arg for arg in get_args(kind) if arg is not type(None))
        return other_value(inner, default)
    if origin is Annotated:
        (marker,) = (extra for extra in get_args(kind)[1:] if isinstance(extra, Text))
        return marker.example, marker.normalize(marker.example)
    if origin is Literal:
        choice = next(choice for choice in get_args(kind) if choice != default)
        return choice.lower(), choice  # read case-insensitively
    if kind is bool:
        return ("Yes", True) if default is False else ("OFF", False)
    if kind is int:
        return str(default + 1), default + 1
    if kind is float:
        return repr(default + 0.25), default + 0.25
    if kind is Path:
        return "/srv/tessera-elsewhere", Path("/srv/tessera-elsewhere")
    if kind is str:
        return f"{default}-other", f"{default}-other"
    raise AssertionError(f"no test value for {kind!r}")


def field_of(settings: Settings, declared: DeclaredVariable) -> Any:
    value: Any = settings
    for name in declared.path:
        value = getattr(value, name)
    return value


def test_the_declarations_name_every_variable_once() -> None:
    names = [declared.variable for declared in DECLARED]
    assert len(names) == len(set(names))
    assert all(name.startswith("TESSERA_") for name in names)
    assert "TESSERA_DATABASE_URL" in names
    assert "TESSERA_LOG_JSON" in names


@pytest.mark.parametrize("declared", DECLARED, ids=lambda declared: declared.variable)
def test_every_variable_round_trips(declared: DeclaredVariable, tmp_path: Path) -> None:
    raw, expected = other_value(declared.type, declared.default)
    assert expected != declared.default
    environ = {**BASE, "TESSERA_DATA_DIR": str(tmp_path / "data"), declared.variable: raw}
    settings = Settings.from_env(environ)
    assert field_of(settings, declared) == expected


@pytest.mark.parametrize("declared", DECLARED, ids=lambda declared: declared.variable)
def test_an_empty_variable_keeps_the_default(declared: DeclaredVariable) -> None:
    if declared.variable == "TESSERA_DATABASE_URL":  # its default follows the data directory
        assert (
            Settings.from_env({declared.variable: " "}).database.url == "sqlite+aiosqlite:///var/tessera.db"
        )
        return
    assert field_of(Settings.from_env({declared.variable: " "}), declared) == declared.default


def test_booleans_take_only_the_documented_words() -> None:
    for word in TRUE_WORDS:
        assert Settings.from_env({"TESSERA_LOG_JSON": word.upper()}).log_json is True
    for word in FALSE_WORDS:
        assert Settings.from_env({"TESSERA_WORKER_EMBEDDED": f" {word.title()} "}).worker.embedded is False
    for typo in ("ture", "flase", "y", "enabled", "2"):
        with pytest.raises(ConfigurationError, match=rf"^TESSERA_LOG_JSON: not a boolean .*'{typo}'"):
            Settings.from_env({"TESSERA_LOG_JSON": typo})


@pytest.mark.parametrize(
    ("variable", "value", "refusal"),
    [
        ("TESSERA_DATABASE_POOL_SIZE", "ten", "TESSERA_DATABASE_POOL_SIZE: not an integer: 'ten'"),
        ("TESSERA_CODE_LENGTH", "16.5", "TESSERA_CODE_LENGTH: not an integer: '16.5'"),
        ("TESSERA_WORKER_POLL_SECONDS", "fast", "TESSERA_WORKER_POLL_SECONDS: not a number: 'fast'"),
        ("TESSERA_ROLLUP_EVERY_SECONDS", "inf", "TESSERA_ROLLUP_EVERY_SECONDS: not a number: 'inf'"),
        ("TESSERA_PUBLIC_URL", "ftp://x", "TESSERA_PUBLIC_URL: not an http(s) URL: 'ftp://x'"),
        ("TESSERA_APNS_URL", "api.push.apple.com", "TESSERA_APNS_URL: not an http(s) URL"),
        ("TESSERA_MESSAGE_WEBHOOK_URL", "https://", "TESSERA_MESSAGE_WEBHOOK_URL: not an http(s) URL"),
        ("TESSERA_LOG_LEVEL", "loud", "TESSERA_LOG_LEVEL: not one of DEBUG, INFO"),
        ("TESSERA_CURRENCY", "euro", "TESSERA_CURRENCY: not an ISO 4217 code"),
        ("TESSERA_DEFAULT_PHONE_REGION", "xx", "TESSERA_DEFAULT_PHONE_REGION: not a country code"),
        ("TESSERA_EAN_PREFIX", "9a", "TESSERA_EAN_PREFIX: not 1 to 3 digits"),
    ],
)
def test_a_bad_value_is_refused_naming_its_variable(variable: str, value: str, refusal: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_env({**BASE, variable: value})
    assert str(refused.value).startswith(refusal)


def test_a_refused_secret_is_not_repeated() -> None:
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_env({"TESSERA_VAPID_PRIVATE_KEY": "my-leaked-key"})
    assert str(refused.value) == "TESSERA_VAPID_PRIVATE_KEY: not a VAPID key"


def test_reading_settings_writes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = Settings.from_env({"TESSERA_DATA_DIR": str(data)})
    assert settings.data_dir == data
    assert settings.database.url == f"sqlite+aiosqlite:///{data / 'tessera.db'}"
    assert (settings.security.code_secret, settings.push.vapid_private_key) == ("", "")
    assert settings.apple.cert_path is None
    assert settings.google.service_account_path is None
    assert not data.exists()
    assert list(tmp_path.iterdir()) == []


def test_the_configuration_page_lists_the_declared_variables() -> None:
    checked = subprocess.run(
        [sys.executable, str(REPOSITORY / "scripts" / "settings_doc.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr  # it says how to regenerate the page
    page = (REPOSITORY / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert all(f"| `{declared.variable}` |" in page for declared in DECLARED)
