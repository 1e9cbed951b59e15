"""Settings read once from ``TESSERA_*`` environment variables and passed into ``create_app``.

Development may generate missing secrets (kept in the data directory so codes stay valid across
restarts); production refuses to start without them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from tessera.core.clock import time_zone
from tessera.core.errors import ConfigurationError
from tessera.customers.phones import is_known_region

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
    """Budgets per window of ``window_seconds``. Failed scans count against the staff account,
    its store and all scans together; registrations against the client address; contest codes
    that are not valid against the customer and the contest."""

    failed_scans_per_window: int = 10
    failed_scans_per_store: int = 30
    failed_scans_in_all: int = 500
    registrations_per_address: int = 30
    # Pass downloads and Google save links through one coupon's signed wallet link.
    wallet_link_uses: int = 30
    # Contest codes that are unknown or forged, per customer and per contest (all customers).
    failed_entries_per_customer: int = 10
    failed_entries_per_contest: int = 1000
    window_seconds: int = 300


@dataclass(frozen=True, slots=True)
class SignInSettings:
    """Customer sign-in with one-time codes. Budgets count per window of ``window_seconds``:
    failed logins and code requests, each per e-mail address or phone number ("contact") and per
    client address; failed logins per contact also per UTC day. A 6-digit code is one of a
    million: at 20 failures a day, a guesser has a 0.7% chance a year against one customer, and
    only while codes are live, each of which was sent to that customer."""

    code_minutes: int = 10
    window_seconds: int = 3600
    failures_per_contact: int = 5
    failures_per_contact_per_day: int = 20
    failures_per_client: int = 20
    codes_per_contact: int = 5
    codes_per_client: int = 20


@dataclass(frozen=True, slots=True)
class MessageSettings:
    """Where e-mail and SMS messages are handed off: a webhook that receives each one as JSON,
    signed with ``webhook_secret`` (``X-Tessera-Signature``). No webhook: messages are only
    logged, which production refuses."""

    webhook_url: str | None = None
    webhook_secret: str = ""
    timeout_seconds: float = 10.0


@dataclass(frozen=True, slots=True)
class CodeSettings:
    random_length: int = 16
    ean_prefix: str = "99"


REPOSITORY = Path(__file__).resolve().parents[3]
DEVELOPMENT_PASS_TYPE = "pass.dev.tessera.coupon"  # noqa: S105 (an identifier, not a secret)
DEVELOPMENT_TEAM = "TESSERADEV"
DEVELOPMENT_GOOGLE_ISSUER = "3388000000000000000"


@dataclass(frozen=True, slots=True)
class AppleWalletSettings:
    """The Pass Type ID certificate signs passes and is the APNs client certificate."""

    pass_type_identifier: str = DEVELOPMENT_PASS_TYPE
    team_identifier: str = DEVELOPMENT_TEAM
    organization_name: str = "Tessera"
    cert_path: Path | None = None
    key_path: Path | None = None
    key_password: str | None = None
    wwdr_path: Path | None = None
    apns_url: str = "https://api.push.apple.com"
    # Trust store for the APNs server (None: the system's); tests point it at a local fake.
    apns_ca_path: Path | None = None
    template_dir: Path = REPOSITORY / "wallet_templates" / "apple" / "coupon.pass"
    # The member card (a store card), signed like the coupons.
    store_card_template_dir: Path = REPOSITORY / "wallet_templates" / "apple" / "storecard.pass"

    @property
    def configured(self) -> bool:
        return None not in (self.cert_path, self.key_path, self.wwdr_path)


@dataclass(frozen=True, slots=True)
class GoogleWalletSettings:
    issuer_id: str = DEVELOPMENT_GOOGLE_ISSUER
    service_account_path: Path | None = None
    api_url: str = "https://walletobjects.googleapis.com"
    # Google's callback signing keys (its published keys JSON); no file: callbacks are refused.
    root_keys_path: Path | None = None
    template_dir: Path = REPOSITORY / "wallet_templates" / "google"


@dataclass(frozen=True, slots=True)
class PushSettings:
    vapid_private_key: str = ""  # base64url of the raw 32-byte P-256 scalar
    vapid_subject: str = "mailto:push@tessera.invalid"
    ttl_seconds: int = 3 * 24 * 3600
    reminder_hours: int = 24

    @property
    def vapid_public_key(self) -> str:
        from tessera.push.vapid import load_private_key, public_key_of

        return public_key_of(load_private_key(self.vapid_private_key))


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    embedded: bool = True
    poll_seconds: float = 0.5
    # A batch is claimed, prefetched and completed with one statement each: larger batches
    # amortise that; the lease must outlast a batch whose sends all time out (10 s each).
    batch_size: int = 200
    concurrency: int = 16
    lease_seconds: int = 300
    max_attempts: int = 10
    retry_base_seconds: float = 5.0
    retry_max_seconds: float = 3600.0
    jobs_every_seconds: float = 60.0
    # Analytics rollups: readers fold in the events not rolled up yet, so this bounds their work,
    # not the freshness of a figure.
    rollup_every_seconds: float = 1.0
    expiry_notice_hours: int = 48


@dataclass(frozen=True, slots=True)
class Settings:
    environment: str = "development"
    data_dir: Path = Path("var")
    public_url: str = "http://127.0.0.1:8000"
    # Peers whose X-Forwarded-For / X-Forwarded-Proto are believed (the load balancer): the
    # client address of every per-address budget comes from there. Comma-separated, or "*".
    forwarded_allow_ips: str = "127.0.0.1"
    log_level: str = "INFO"
    log_json: bool = False
    pwa_dir: Path = REPOSITORY / "pwa"
    # The time zone of customers who gave none (their birthday falls on its local date).
    default_timezone: str = "UTC"
    # The country of phone numbers given without their country code (ISO 3166, e.g. "HU");
    # unset, such numbers are refused.
    default_phone_region: str | None = None
    # The one currency money is counted in (ISO 4217): amount discounts, order totals, revenue.
    currency: str = "EUR"
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    throttle: ThrottleSettings = field(default_factory=ThrottleSettings)
    codes: CodeSettings = field(default_factory=CodeSettings)
    apple: AppleWalletSettings = field(default_factory=AppleWalletSettings)
    google: GoogleWalletSettings = field(default_factory=GoogleWalletSettings)
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    push: PushSettings = field(default_factory=PushSettings)
    sign_in: SignInSettings = field(default_factory=SignInSettings)
    messages: MessageSettings = field(default_factory=MessageSettings)

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
            forwarded_allow_ips=get("FORWARDED_ALLOW_IPS", defaults.forwarded_allow_ips),
            log_level=get("LOG_LEVEL", defaults.log_level).upper(),
            log_json=_flag(get("LOG_JSON", "false")),
            pwa_dir=Path(get("PWA_DIR", str(defaults.pwa_dir))),
            default_timezone=get("DEFAULT_TIMEZONE", defaults.default_timezone),
            default_phone_region=get("DEFAULT_PHONE_REGION", "").upper() or None,
            currency=get("CURRENCY", defaults.currency).upper(),
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
                failed_scans_per_store=int(
                    get("FAILED_SCANS_PER_STORE", str(defaults.throttle.failed_scans_per_store))
                ),
                failed_scans_in_all=int(
                    get("FAILED_SCANS_IN_ALL", str(defaults.throttle.failed_scans_in_all))
                ),
                registrations_per_address=int(
                    get("REGISTRATIONS_PER_ADDRESS", str(defaults.throttle.registrations_per_address))
                ),
                wallet_link_uses=int(get("WALLET_LINK_USES", str(defaults.throttle.wallet_link_uses))),
                failed_entries_per_customer=int(
                    get("FAILED_ENTRIES_PER_CUSTOMER", str(defaults.throttle.failed_entries_per_customer))
                ),
                failed_entries_per_contest=int(
                    get("FAILED_ENTRIES_PER_CONTEST", str(defaults.throttle.failed_entries_per_contest))
                ),
                window_seconds=int(get("THROTTLE_WINDOW_SECONDS", str(defaults.throttle.window_seconds))),
            ),
            codes=CodeSettings(
                random_length=int(get("CODE_LENGTH", str(defaults.codes.random_length))),
                ean_prefix=get("EAN_PREFIX", defaults.codes.ean_prefix),
            ),
            apple=AppleWalletSettings(
                pass_type_identifier=get("APPLE_PASS_TYPE_ID", defaults.apple.pass_type_identifier),
                team_identifier=get("APPLE_TEAM_ID", defaults.apple.team_identifier),
                organization_name=get("APPLE_ORGANIZATION", defaults.apple.organization_name),
                cert_path=_path(get("APPLE_CERT_PATH", "")),
                key_path=_path(get("APPLE_KEY_PATH", "")),
                key_password=get("APPLE_KEY_PASSWORD", "") or None,
                wwdr_path=_path(get("APPLE_WWDR_PATH", "")),
                apns_url=get("APNS_URL", defaults.apple.apns_url).rstrip("/"),
                apns_ca_path=_path(get("APNS_CA_PATH", "")),
                template_dir=Path(get("APPLE_TEMPLATE_DIR", str(defaults.apple.template_dir))),
                store_card_template_dir=Path(
                    get("APPLE_STORE_CARD_TEMPLATE_DIR", str(defaults.apple.store_card_template_dir))
                ),
            ),
            google=GoogleWalletSettings(
                issuer_id=get("GOOGLE_ISSUER_ID", defaults.google.issuer_id),
                service_account_path=_path(get("GOOGLE_SERVICE_ACCOUNT_PATH", "")),
                api_url=get("GOOGLE_WALLET_API_URL", defaults.google.api_url).rstrip("/"),
                root_keys_path=_path(get("GOOGLE_ROOT_KEYS_PATH", "")),
                template_dir=Path(get("GOOGLE_TEMPLATE_DIR", str(defaults.google.template_dir))),
            ),
            push=PushSettings(
                vapid_private_key=get("VAPID_PRIVATE_KEY", ""),
                vapid_subject=get("VAPID_SUBJECT", defaults.push.vapid_subject),
                ttl_seconds=int(get("PUSH_TTL_SECONDS", str(defaults.push.ttl_seconds))),
                reminder_hours=int(get("PUSH_REMINDER_HOURS", str(defaults.push.reminder_hours))),
            ),
            sign_in=SignInSettings(
                code_minutes=int(get("SIGN_IN_CODE_MINUTES", str(defaults.sign_in.code_minutes))),
                window_seconds=int(get("SIGN_IN_WINDOW_SECONDS", str(defaults.sign_in.window_seconds))),
                failures_per_contact=int(
                    get("SIGN_IN_FAILURES_PER_CONTACT", str(defaults.sign_in.failures_per_contact))
                ),
                failures_per_contact_per_day=int(
                    get(
                        "SIGN_IN_FAILURES_PER_CONTACT_PER_DAY",
                        str(defaults.sign_in.failures_per_contact_per_day),
                    )
                ),
                failures_per_client=int(
                    get("SIGN_IN_FAILURES_PER_CLIENT", str(defaults.sign_in.failures_per_client))
                ),
                codes_per_contact=int(
                    get("SIGN_IN_CODES_PER_CONTACT", str(defaults.sign_in.codes_per_contact))
                ),
                codes_per_client=int(get("SIGN_IN_CODES_PER_CLIENT", str(defaults.sign_in.codes_per_client))),
            ),
            messages=MessageSettings(
                webhook_url=get("MESSAGE_WEBHOOK_URL", "").strip() or None,
                webhook_secret=get("MESSAGE_WEBHOOK_SECRET", ""),
            ),
            worker=WorkerSettings(
                embedded=_flag(get("WORKER_EMBEDDED", "true")),
                poll_seconds=float(get("WORKER_POLL_SECONDS", str(defaults.worker.poll_seconds))),
                max_attempts=int(get("OUTBOX_MAX_ATTEMPTS", str(defaults.worker.max_attempts))),
                batch_size=int(get("OUTBOX_BATCH_SIZE", str(defaults.worker.batch_size))),
                lease_seconds=int(get("OUTBOX_LEASE_SECONDS", str(defaults.worker.lease_seconds))),
                rollup_every_seconds=float(
                    get("ROLLUP_EVERY_SECONDS", str(defaults.worker.rollup_every_seconds))
                ),
                expiry_notice_hours=int(get("EXPIRY_NOTICE_HOURS", str(defaults.worker.expiry_notice_hours))),
            ),
        )
        return settings.checked()

    def checked(self) -> Settings:
        """Fail fast on unusable values; fill development-only secrets."""
        if not 14 <= self.codes.random_length <= 24:
            raise ConfigurationError("TESSERA_CODE_LENGTH must be between 14 and 24 (>= 64 bits)")
        prefix = self.codes.ean_prefix
        if not (prefix.isascii() and prefix.isdigit() and 1 <= len(prefix) <= 3):
            raise ConfigurationError("TESSERA_EAN_PREFIX must be 1 to 3 digits")
        if time_zone(self.default_timezone) is None:
            raise ConfigurationError("TESSERA_DEFAULT_TIMEZONE must be an IANA time zone such as Europe/Rome")
        if self.default_phone_region is not None and not is_known_region(self.default_phone_region):
            raise ConfigurationError("TESSERA_DEFAULT_PHONE_REGION must be a country code such as HU or IT")
        if not (len(self.currency) == 3 and self.currency.isascii() and self.currency.isalpha()):
            raise ConfigurationError("TESSERA_CURRENCY must be an ISO 4217 code such as EUR")
        if self.worker.batch_size < 1 or self.worker.lease_seconds < 1:
            raise ConfigurationError(
                "TESSERA_OUTBOX_BATCH_SIZE and TESSERA_OUTBOX_LEASE_SECONDS must be >= 1"
            )
        sign_in = self.sign_in
        if not 1 <= sign_in.code_minutes <= 60 or sign_in.window_seconds < 1:
            raise ConfigurationError(
                "TESSERA_SIGN_IN_CODE_MINUTES must be 1 to 60 and TESSERA_SIGN_IN_WINDOW_SECONDS >= 1"
            )
        settings = self
        secret = self.security.code_secret
        if secret.lower() in PLACEHOLDER_SECRETS or len(secret) < 32:
            if self.is_production:
                raise ConfigurationError(
                    "TESSERA_CODE_SECRET must be set to at least 32 random characters in production"
                )
            secret = self._development_secret()
            settings = replace(settings, security=replace(self.security, code_secret=secret))
        settings = settings._with_wallet_credentials()._with_vapid_keys()
        settings._check_message_webhook()
        return settings

    def _check_message_webhook(self) -> None:
        """A webhook needs its signing secret; production needs the webhook (messages are never
        only logged there) and, off this machine, https."""
        messages = self.messages
        if messages.webhook_url is None:
            if self.is_production:
                raise ConfigurationError(
                    "TESSERA_MESSAGE_WEBHOOK_URL must be set in production (sign-in codes go through it)"
                )
            return
        parts = urlsplit(messages.webhook_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError("TESSERA_MESSAGE_WEBHOOK_URL must be an http(s) URL")
        if (
            self.is_production
            and parts.scheme != "https"
            and parts.hostname not in ("localhost", "127.0.0.1", "::1")
        ):
            raise ConfigurationError("TESSERA_MESSAGE_WEBHOOK_URL must be https in production")
        secret = messages.webhook_secret
        if secret.lower() in PLACEHOLDER_SECRETS or len(secret) < 32:
            raise ConfigurationError(
                "TESSERA_MESSAGE_WEBHOOK_SECRET must be at least 32 random characters when "
                "TESSERA_MESSAGE_WEBHOOK_URL is set"
            )

    def _with_wallet_credentials(self) -> Settings:
        """Apple and Google credentials; throwaway ones in development, required in production."""
        apple, google = self.apple, self.google
        if not apple.configured:
            if self.is_production:
                raise ConfigurationError(
                    "TESSERA_APPLE_CERT_PATH, TESSERA_APPLE_KEY_PATH and TESSERA_APPLE_WWDR_PATH "
                    "must be set in production"
                )
            from tessera.wallet.apple.dev_certificates import make_development_certificates

            made = make_development_certificates(
                self.data_dir / "wallet-dev" / "apple", apple.pass_type_identifier, apple.team_identifier
            )
            apple = replace(apple, cert_path=made.cert_path, key_path=made.key_path, wwdr_path=made.wwdr_path)
        if google.service_account_path is None:
            if self.is_production:
                raise ConfigurationError("TESSERA_GOOGLE_SERVICE_ACCOUNT_PATH must be set in production")
            from tessera.wallet.google.dev_keys import make_development_service_account

            path = make_development_service_account(
                self.data_dir / "wallet-dev" / "google-service-account.json"
            )
            google = replace(google, service_account_path=path)
        if google.root_keys_path is None and self.is_production:
            raise ConfigurationError("TESSERA_GOOGLE_ROOT_KEYS_PATH must be set in production")
        return replace(self, apple=apple, google=google)

    def _with_vapid_keys(self) -> Settings:
        """VAPID keys: kept in the data directory in development (subscriptions are bound to the
        public key, so it must survive restarts), required in production."""
        from tessera.push.vapid import generate_vapid_keys, load_private_key

        key = self.push.vapid_private_key
        if not key:
            if self.is_production:
                raise ConfigurationError(
                    "TESSERA_VAPID_PRIVATE_KEY must be set in production (tessera vapid)"
                )
            key = _kept_secret(self.data_dir / "vapid_private_key", lambda: generate_vapid_keys().private_key)
        try:
            load_private_key(key)
        except ValueError as error:
            raise ConfigurationError(f"TESSERA_VAPID_PRIVATE_KEY is not a VAPID key: {error}") from error
        return replace(self, push=replace(self.push, vapid_private_key=key))

    def _development_secret(self) -> str:
        """A secret kept in the data directory, so development codes survive restarts."""
        return _kept_secret(self.data_dir / "code_secret", lambda: secrets.token_urlsafe(48))


def _kept_secret(path: Path, make: Callable[[], str]) -> str:
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


def _path(value: str) -> Path | None:
    return Path(value) if value else None


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}
