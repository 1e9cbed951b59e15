"""Settings read once from ``TESSERA_*`` environment variables and passed into ``create_app``.

Development may generate missing secrets (kept in the data directory so codes stay valid across
restarts); production refuses to start without them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from tessera.errors import ConfigurationError

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "dev"})


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    url: str = "sqlite+aiosqlite:///./var/tessera.db"
    pool_size: int = 10
    echo: bool = False

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def sqlite_path(self) -> str:
        """The file path of a SQLite URL (``sqlite+aiosqlite:///path``)."""
        return self.url.split(":///", 1)[1]

    @property
    def asyncpg_dsn(self) -> str:
        """The URL in the plain ``postgresql://`` form asyncpg takes."""
        return "postgresql://" + self.url.split("://", 1)[1]


@dataclass(frozen=True, slots=True)
class SecuritySettings:
    code_secret: str = ""
    staff_token_minutes: int = 12 * 60
    argon2_memory_kib: int = 19 * 1024
    argon2_rounds: int = 2
    password_hash_concurrency: int = 2


@dataclass(frozen=True, slots=True)
class ThrottleSettings:
    failed_scans_per_window: int = 10
    window_seconds: int = 300


@dataclass(frozen=True, slots=True)
class CodeSettings:
    random_length: int = 16
    ean_prefix: str = "99"


@dataclass(frozen=True, slots=True)
class Settings:
    environment: str = "development"
    data_dir: Path = Path("var")
    public_url: str = "http://127.0.0.1:8000"
    log_level: str = "INFO"
    log_json: bool = False
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    throttle: ThrottleSettings = field(default_factory=ThrottleSettings)
    codes: CodeSettings = field(default_factory=CodeSettings)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``TESSERA_*`` variables; unset ones keep their defaults."""
        env = os.environ if environ is None else environ

        def get(name: str, default: str) -> str:
            return env.get(f"TESSERA_{name}", default)

        data_dir = Path(get("DATA_DIR", "var"))
        defaults = cls()
        settings = cls(
            environment=get("ENV", defaults.environment),
            data_dir=data_dir,
            public_url=get("PUBLIC_URL", defaults.public_url).rstrip("/"),
            log_level=get("LOG_LEVEL", defaults.log_level).upper(),
            log_json=_flag(get("LOG_JSON", "false")),
            database=DatabaseSettings(
                url=get("DATABASE_URL", f"sqlite+aiosqlite:///{data_dir / 'tessera.db'}"),
                pool_size=int(get("DATABASE_POOL_SIZE", str(defaults.database.pool_size))),
                echo=_flag(get("DATABASE_ECHO", "false")),
            ),
            security=SecuritySettings(
                code_secret=get("CODE_SECRET", ""),
                staff_token_minutes=int(
                    get("STAFF_TOKEN_MINUTES", str(defaults.security.staff_token_minutes))
                ),
            ),
            throttle=ThrottleSettings(
                failed_scans_per_window=int(
                    get("FAILED_SCANS_PER_WINDOW", str(defaults.throttle.failed_scans_per_window))
                ),
                window_seconds=int(get("THROTTLE_WINDOW_SECONDS", str(defaults.throttle.window_seconds))),
            ),
            codes=CodeSettings(
                random_length=int(get("CODE_LENGTH", str(defaults.codes.random_length))),
                ean_prefix=get("EAN_PREFIX", defaults.codes.ean_prefix),
            ),
        )
        return settings.checked()

    def checked(self) -> Settings:
        """Fail fast on unusable values; fill development-only secrets."""
        if not 14 <= self.codes.random_length <= 24:
            raise ConfigurationError("TESSERA_CODE_LENGTH must be between 14 and 24 (>= 64 bits)")
        if not (self.codes.ean_prefix.isdigit() and 1 <= len(self.codes.ean_prefix) <= 3):
            raise ConfigurationError("TESSERA_EAN_PREFIX must be 1 to 3 digits")
        secret = self.security.code_secret
        if secret.lower() in PLACEHOLDER_SECRETS or len(secret) < 32:
            if self.is_production:
                raise ConfigurationError(
                    "TESSERA_CODE_SECRET must be set to at least 32 random characters in production"
                )
            secret = self._development_secret()
            return replace(self, security=replace(self.security, code_secret=secret))
        return self

    def _development_secret(self) -> str:
        """A secret kept in the data directory, so development codes survive restarts."""
        path = self.data_dir / "code_secret"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        path.write_text(value)
        path.chmod(0o600)
        return value


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}
