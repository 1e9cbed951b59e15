"""Settings read once from ``TESSERA_*`` environment variables and passed into ``create_app``.

Each field declares its variable beside it (``env(...)``) and its type in its annotation; one
loader reads them all and refuses a value its type cannot take, naming the variable. Reading
and checking do no I/O: development secrets and wallet credentials are made by
``tessera.assembly.devkit``, which the CLI and the app factory call in development only; production
refuses to start without them.
"""

from __future__ import annotations

import base64
import binascii
import math
import os
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit

import phonenumbers
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tessera.core.clock import time_zone
from tessera.core.errors import ConfigurationError

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "dev"})
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})

_T = TypeVar("_T")
_DECLARATION = "tessera.env"


@dataclass(frozen=True, slots=True)
class Declaration:
    """The environment variable of one settings field, and what it is for."""

    variable: str
    doc: str
    # How the default reads in the documentation, when it is not the field's own value.
    shown_default: str | None = None


def env(variable: str, default: _T, doc: str, *, shown_default: str | None = None) -> _T:
    """A settings field read from ``variable``; an unset or empty variable keeps ``default``."""
    declaration = Declaration(variable, doc, shown_default)
    return field(default=default, metadata={_DECLARATION: declaration})


@dataclass(frozen=True, slots=True)
class Text:
    """What a text setting must look like: ``Annotated[str, Text(...)]``."""

    label: str  # completes "not …": "an http(s) URL"
    example: str
    accepts: Callable[[str], bool]
    normalize: Callable[[str], str] = str
    secret: bool = False  # a refused value is not repeated in the message

    def refusal(self, variable: str, value: str) -> ConfigurationError:
        shown = "" if self.secret else f": {value!r}"
        return ConfigurationError(f"{variable}: not {self.label}{shown}")


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _is_currency(value: str) -> bool:
    return len(value) == 3 and value.isascii() and value.isalpha()


def _is_ean_prefix(value: str) -> bool:
    return value.isascii() and value.isdigit() and 1 <= len(value) <= 3


def vapid_private_key(text: str) -> ec.EllipticCurvePrivateKey:
    """The P-256 key of a base64url raw 32-byte scalar (the form pywebpush takes);
    ``ValueError`` when ``text`` is not one."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise ValueError("a VAPID private key is base64url") from error
    if len(raw) != 32:
        raise ValueError("a VAPID private key is 32 bytes")
    return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())


def _is_vapid_key(value: str) -> bool:
    try:
        vapid_private_key(value)
    except ValueError:
        return False
    return True


def _is_smtp_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError:
        return False
    return parts.scheme in ("smtp", "smtps") and bool(parts.hostname)


def _is_mailbox(value: str) -> bool:
    address = parseaddr(value)[1]
    local, at, domain = address.rpartition("@")
    return bool(local and at and domain) and not any(ord(char) < 32 for char in value)


HttpUrl = Annotated[str, Text("an http(s) URL", "https://hooks.example.com/tessera", _is_http_url)]
SmtpUrl = Annotated[
    str,
    Text("an smtp:// or smtps:// URL", "smtps://mailer:password@smtp.example.com", _is_smtp_url, secret=True),
]
Mailbox = Annotated[
    str, Text("an e-mail address, optionally as Name <address>", "Coupons <coupons@example.com>", _is_mailbox)
]
BaseUrl = Annotated[
    str,
    Text("an http(s) URL", "https://coupons.example.com", _is_http_url, lambda value: value.rstrip("/")),
]
TimeZoneName = Annotated[
    str,
    Text("an IANA time zone such as Europe/Rome", "Europe/Rome", lambda value: time_zone(value) is not None),
]
PhoneRegion = Annotated[
    str,
    Text(
        "a country code such as HU or IT",
        "HU",
        lambda value: value in phonenumbers.SUPPORTED_REGIONS,
        str.upper,
    ),
]
CurrencyCode = Annotated[str, Text("an ISO 4217 code such as EUR", "HUF", _is_currency, str.upper)]
EanPrefix = Annotated[str, Text("1 to 3 digits", "20", _is_ean_prefix)]
# The private scalar 1: a valid key, for examples only.
VapidKey = Annotated[
    str, Text("a VAPID key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE", _is_vapid_key, secret=True)
]
SigningSecret = Annotated[
    str,
    Text(
        "at least 32 random characters",
        "an-example-secret-of-32-characters-or-more",
        lambda value: is_real_secret(value),
        secret=True,
    ),
]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL"]


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    url: str = env(
        "TESSERA_DATABASE_URL",
        "sqlite+aiosqlite:///./var/tessera.db",
        "SQLAlchemy URL: `sqlite+aiosqlite:///path` (one process) or `postgresql+asyncpg://…`.",
        shown_default="sqlite+aiosqlite:///$TESSERA_DATA_DIR/tessera.db",
    )
    pool_size: int = env("TESSERA_DATABASE_POOL_SIZE", 10, "Connections per app process (PostgreSQL).")
    echo: bool = env("TESSERA_DATABASE_ECHO", False, "Log every SQL statement.")

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
    code_secret: str = env(
        "TESSERA_CODE_SECRET",
        "",
        "Key of the coupon codes' signatures: at least 32 random characters; required in production "
        "(development keeps one in the data directory).",
    )
    staff_token_minutes: int = env("TESSERA_STAFF_TOKEN_MINUTES", 12 * 60, "Lifetime of a staff login.")
    argon2_memory_kib: int = 19 * 1024
    argon2_rounds: int = 2
    password_hash_concurrency: int = 2


@dataclass(frozen=True, slots=True)
class ThrottleSettings:
    """Budgets per window of ``window_seconds``. Failed scans count against the staff account,
    its store and all scans together; registrations against the client address; contest codes
    that are not valid against the customer and the contest."""

    failed_scans_per_window: int = env(
        "TESSERA_FAILED_SCANS_PER_WINDOW", 10, "Failed scans per staff account per throttle window."
    )
    failed_scans_per_store: int = env(
        "TESSERA_FAILED_SCANS_PER_STORE", 30, "Failed scans per store per throttle window."
    )
    failed_scans_in_all: int = env(
        "TESSERA_FAILED_SCANS_IN_ALL", 500, "Failed scans of all stores together per throttle window."
    )
    registrations_per_address: int = env(
        "TESSERA_REGISTRATIONS_PER_ADDRESS",
        30,
        "Customer registrations per client address per throttle window.",
    )
    wallet_link_uses: int = env(
        "TESSERA_WALLET_LINK_USES",
        30,
        "Pass downloads and Google save links through one coupon's signed wallet link per throttle window.",
    )
    failed_entries_per_customer: int = env(
        "TESSERA_FAILED_ENTRIES_PER_CUSTOMER",
        10,
        "Unknown or forged contest codes per customer per throttle window.",
    )
    failed_entries_per_contest: int = env(
        "TESSERA_FAILED_ENTRIES_PER_CONTEST",
        1000,
        "Unknown or forged contest codes per contest (all customers) per throttle window.",
    )
    window_seconds: int = env("TESSERA_THROTTLE_WINDOW_SECONDS", 300, "The throttle window.")


@dataclass(frozen=True, slots=True)
class SignInSettings:
    """Customer sign-in with one-time codes. Budgets count per window of ``window_seconds``:
    failed logins and code requests, each per e-mail address or phone number ("contact") and per
    client address; failed logins per contact also per UTC day. A 6-digit code is one of a
    million: at 20 failures a day, a guesser has a 0.7% chance a year against one customer, and
    only while codes are live, each of which was sent to that customer."""

    code_minutes: int = env("TESSERA_SIGN_IN_CODE_MINUTES", 10, "Lifetime of a one-time code (1 to 60).")
    window_seconds: int = env("TESSERA_SIGN_IN_WINDOW_SECONDS", 3600, "The sign-in budget window.")
    failures_per_contact: int = env(
        "TESSERA_SIGN_IN_FAILURES_PER_CONTACT", 5, "Failed logins per e-mail address or phone per window."
    )
    failures_per_contact_per_day: int = env(
        "TESSERA_SIGN_IN_FAILURES_PER_CONTACT_PER_DAY",
        20,
        "Failed logins per e-mail address or phone per UTC day.",
    )
    failures_per_client: int = env(
        "TESSERA_SIGN_IN_FAILURES_PER_CLIENT", 20, "Failed logins per client address per window."
    )
    codes_per_contact: int = env(
        "TESSERA_SIGN_IN_CODES_PER_CONTACT", 5, "Codes sent per e-mail address or phone per window."
    )
    codes_per_client: int = env(
        "TESSERA_SIGN_IN_CODES_PER_CLIENT", 20, "Codes requested per client address per window."
    )


@dataclass(frozen=True, slots=True)
class MessageSettings:
    """Where e-mail and SMS messages are handed off: a webhook that receives each one as JSON,
    signed with ``webhook_secret`` (``X-Tessera-Signature``). No webhook: messages are only
    logged, which production refuses."""

    webhook_url: HttpUrl | None = env(
        "TESSERA_MESSAGE_WEBHOOK_URL",
        None,
        "Receives each e-mail and SMS as JSON; unset, messages are only logged (refused in production, "
        "which also needs https off this machine).",
    )
    webhook_secret: str = env(
        "TESSERA_MESSAGE_WEBHOOK_SECRET",
        "",
        "Signs each webhook call (`X-Tessera-Signature`): at least 32 random characters.",
    )
    smtp_url: SmtpUrl | None = env(
        "TESSERA_SMTP_URL",
        None,
        "E-mail goes to this SMTP server instead of the webhook: `smtp://[user:password@]host[:port]` "
        "(port 25, STARTTLS when the server offers it, required in production off this machine) or "
        "`smtps://…` (TLS from the start, port 465); user and password percent-encoded.",
    )
    mail_from: Mailbox = env(
        "TESSERA_MAIL_FROM",
        "Tessera <coupons@localhost>",
        "Sender of the e-mail sent over SMTP (`From`, and the domain of each `Message-ID`).",
    )
    smtp_connections: int = env(
        "TESSERA_SMTP_CONNECTIONS", 4, "SMTP connections kept open to the server, at most."
    )
    timeout_seconds: float = 10.0


@dataclass(frozen=True, slots=True)
class SmsSettings:
    """The two-way SMS channel: the gateway posts each inbound message to ``/api/sms/inbound``,
    signed with ``inbound_secret``; replies leave through the message webhook. No secret: every
    inbound message is refused (401)."""

    inbound_secret: SigningSecret = env(
        "TESSERA_SMS_INBOUND_SECRET",
        "",
        "Key the SMS gateway signs each inbound message with (`X-Tessera-Signature`): at least 32 "
        "random characters; unset, `POST /api/sms/inbound` refuses every message.",
    )
    vouchers_per_number: int = env(
        "TESSERA_SMS_VOUCHERS_PER_NUMBER",
        5,
        "Printed SMS voucher codes one phone number may exchange per voucher campaign.",
    )
    number_days: int = env(
        "TESSERA_SMS_NUMBER_DAYS",
        30,
        "Days an inbound SMS's phone number is kept (for its reply); then it is cleared.",
    )


@dataclass(frozen=True, slots=True)
class CodeSettings:
    random_length: int = env(
        "TESSERA_CODE_LENGTH", 16, "Characters of a random coupon code (14 to 24, at least 64 bits)."
    )
    ean_prefix: EanPrefix = env(
        "TESSERA_EAN_PREFIX", "99", "Prefix of the EAN-13 barcodes of codes (1 to 3 digits)."
    )


REPOSITORY = Path(__file__).resolve().parents[3]
DEVELOPMENT_PASS_TYPE = "pass.dev.tessera.coupon"  # noqa: S105 (an identifier, not a secret)
DEVELOPMENT_TEAM = "TESSERADEV"
DEVELOPMENT_GOOGLE_ISSUER = "3388000000000000000"


@dataclass(frozen=True, slots=True)
class AppleWalletSettings:
    """The Pass Type ID certificate signs passes and is the APNs client certificate."""

    pass_type_identifier: str = env(
        "TESSERA_APPLE_PASS_TYPE_ID", DEVELOPMENT_PASS_TYPE, "Pass Type ID of the passes (and APNs topic)."
    )
    team_identifier: str = env("TESSERA_APPLE_TEAM_ID", DEVELOPMENT_TEAM, "Apple team identifier.")
    organization_name: str = env("TESSERA_APPLE_ORGANIZATION", "Tessera", "Organization shown on passes.")
    cert_path: Path | None = env(
        "TESSERA_APPLE_CERT_PATH",
        None,
        "Pass Type ID certificate (PEM); required in production, development makes a throwaway one.",
    )
    key_path: Path | None = env(
        "TESSERA_APPLE_KEY_PATH", None, "Its private key (PEM); required in production."
    )
    key_password: str | None = env("TESSERA_APPLE_KEY_PASSWORD", None, "Password of the private key, if any.")
    wwdr_path: Path | None = env(
        "TESSERA_APPLE_WWDR_PATH", None, "Apple WWDR intermediate certificate (PEM); required in production."
    )
    apns_url: BaseUrl = env("TESSERA_APNS_URL", "https://api.push.apple.com", "APNs server of pass updates.")
    apns_ca_path: Path | None = env(
        "TESSERA_APNS_CA_PATH", None, "Trust store for the APNs server; unset, the system's."
    )
    template_dir: Path = env(
        "TESSERA_APPLE_TEMPLATE_DIR",
        REPOSITORY / "wallet_templates" / "apple" / "coupon.pass",
        "Template of the coupon passes.",
    )
    store_card_template_dir: Path = env(
        "TESSERA_APPLE_STORE_CARD_TEMPLATE_DIR",
        REPOSITORY / "wallet_templates" / "apple" / "storecard.pass",
        "Template of the member card (a store card, signed like the coupons).",
    )

    @property
    def configured(self) -> bool:
        return None not in (self.cert_path, self.key_path, self.wwdr_path)


@dataclass(frozen=True, slots=True)
class GoogleWalletSettings:
    issuer_id: str = env("TESSERA_GOOGLE_ISSUER_ID", DEVELOPMENT_GOOGLE_ISSUER, "Google Wallet issuer ID.")
    service_account_path: Path | None = env(
        "TESSERA_GOOGLE_SERVICE_ACCOUNT_PATH",
        None,
        "Service account key (JSON); required in production, development makes a throwaway one.",
    )
    api_url: BaseUrl = env(
        "TESSERA_GOOGLE_WALLET_API_URL", "https://walletobjects.googleapis.com", "Google Wallet API."
    )
    root_keys_path: Path | None = env(
        "TESSERA_GOOGLE_ROOT_KEYS_PATH",
        None,
        "Google's callback signing keys (its published keys JSON); unset, callbacks are refused; "
        "required in production.",
    )
    template_dir: Path = env(
        "TESSERA_GOOGLE_TEMPLATE_DIR", REPOSITORY / "wallet_templates" / "google", "Google Wallet templates."
    )


@dataclass(frozen=True, slots=True)
class PushSettings:
    vapid_private_key: VapidKey = env(
        "TESSERA_VAPID_PRIVATE_KEY",
        "",
        "Web Push key: base64url of the raw 32-byte P-256 scalar (`tessera vapid` makes one); required "
        "in production, development keeps one in the data directory.",
    )
    vapid_subject: str = env(
        "TESSERA_VAPID_SUBJECT", "mailto:push@tessera.invalid", "Contact in Web Push calls."
    )
    ttl_seconds: int = env(
        "TESSERA_PUSH_TTL_SECONDS", 3 * 24 * 3600, "How long a push service keeps a message."
    )
    reminder_hours: int = env("TESSERA_PUSH_REMINDER_HOURS", 24, "Hours before expiry of the reminder push.")

    @property
    def vapid_public_key(self) -> str:
        point = (
            vapid_private_key(self.vapid_private_key)
            .public_key()
            .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        )
        return base64.urlsafe_b64encode(point).rstrip(b"=").decode()


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    embedded: bool = env(
        "TESSERA_WORKER_EMBEDDED", True, "Run the outbox worker and periodic jobs inside the app process."
    )
    poll_seconds: float = env("TESSERA_WORKER_POLL_SECONDS", 0.5, "Pause of an idle worker between polls.")
    # A batch is claimed, prefetched and completed with one statement each: larger batches
    # amortise that; the lease must outlast a batch whose sends all time out (10 s each).
    batch_size: int = env("TESSERA_OUTBOX_BATCH_SIZE", 200, "Outbox effects claimed at once (>= 1).")
    concurrency: int = 16
    lease_seconds: int = env(
        "TESSERA_OUTBOX_LEASE_SECONDS", 300, "How long a claimed batch stays the worker's (>= 1)."
    )
    max_attempts: int = env(
        "TESSERA_OUTBOX_MAX_ATTEMPTS", 10, "Deliveries tried before an effect is given up."
    )
    retry_base_seconds: float = 5.0
    retry_max_seconds: float = 3600.0
    jobs_every_seconds: float = 60.0
    # Analytics rollups: readers fold in the events not rolled up yet, so this bounds their work,
    # not the freshness of a figure.
    rollup_every_seconds: float = env("TESSERA_ROLLUP_EVERY_SECONDS", 1.0, "Pause between analytics rollups.")
    expiry_notice_hours: int = env(
        "TESSERA_EXPIRY_NOTICE_HOURS", 48, "Hours before expiry of the expiry notice."
    )


@dataclass(frozen=True, slots=True)
class Settings:
    environment: str = env(
        "TESSERA_ENV",
        "development",
        "`production` requires every secret and credential; anything else is development.",
    )
    data_dir: Path = env(
        "TESSERA_DATA_DIR", Path("var"), "Data directory: the SQLite database and development secrets."
    )
    public_url: BaseUrl = env(
        "TESSERA_PUBLIC_URL", "http://127.0.0.1:8000", "Address customers reach; links and passes point here."
    )
    # Peers whose X-Forwarded-For / X-Forwarded-Proto are believed (the load balancer): the
    # client address of every per-address budget comes from there. Comma-separated, or "*".
    forwarded_allow_ips: str = env(
        "TESSERA_FORWARDED_ALLOW_IPS",
        "127.0.0.1",
        "Peers whose X-Forwarded-For / X-Forwarded-Proto are believed (the load balancer): "
        "comma-separated addresses, or `*`.",
    )
    # Below the supervisor's own stop timeout (Kubernetes 30 s by default), so that the server,
    # not the supervisor's SIGKILL, decides what a long stream (a code export) gets.
    shutdown_grace_seconds: int = env(
        "TESSERA_SHUTDOWN_GRACE_SECONDS",
        25,
        "On SIGTERM, how long `tessera serve` lets requests and streams under way finish before "
        "it closes their connections.",
    )
    log_level: LogLevel = env("TESSERA_LOG_LEVEL", "INFO", "Least severe level logged.")
    log_json: bool = env("TESSERA_LOG_JSON", False, "Log JSON lines instead of text.")
    pwa_dir: Path = env("TESSERA_PWA_DIR", REPOSITORY / "pwa", "The customer and staff web apps.")
    default_timezone: TimeZoneName = env(
        "TESSERA_DEFAULT_TIMEZONE",
        "UTC",
        "Time zone of customers who gave none (their birthday falls on its local date).",
    )
    default_phone_region: PhoneRegion | None = env(
        "TESSERA_DEFAULT_PHONE_REGION",
        None,
        "Country (ISO 3166) of phone numbers given without their country code; unset, such numbers "
        "are refused.",
    )
    currency: CurrencyCode = env(
        "TESSERA_CURRENCY",
        "EUR",
        "The one currency (ISO 4217) of amount discounts, order totals and revenue.",
    )
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
    sms: SmsSettings = field(default_factory=SmsSettings)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``TESSERA_*`` variables; unset ones keep their defaults."""
        environ = os.environ if environ is None else environ
        settings = _read(cls, environ)
        if not environ.get("TESSERA_DATABASE_URL", "").strip():
            url = f"sqlite+aiosqlite:///{settings.data_dir / 'tessera.db'}"
            settings = replace(settings, database=replace(settings.database, url=url))
        return settings.checked()

    def checked(self) -> Settings:
        """These settings when they can be used; ConfigurationError naming the variable if not."""
        for variable, marker, value in _declared_texts(self):
            if value and not marker.accepts(value):  # empty: unset
                raise marker.refusal(variable, value)
        if not 14 <= self.codes.random_length <= 24:
            raise ConfigurationError("TESSERA_CODE_LENGTH must be between 14 and 24 (>= 64 bits)")
        if self.worker.batch_size < 1 or self.worker.lease_seconds < 1:
            raise ConfigurationError(
                "TESSERA_OUTBOX_BATCH_SIZE and TESSERA_OUTBOX_LEASE_SECONDS must be >= 1"
            )
        sign_in = self.sign_in
        if not 1 <= sign_in.code_minutes <= 60 or sign_in.window_seconds < 1:
            raise ConfigurationError(
                "TESSERA_SIGN_IN_CODE_MINUTES must be 1 to 60 and TESSERA_SIGN_IN_WINDOW_SECONDS >= 1"
            )
        self._check_message_webhook()
        if self.messages.smtp_connections < 1:
            raise ConfigurationError("TESSERA_SMTP_CONNECTIONS must be >= 1")
        if self.sms.vouchers_per_number < 1:
            raise ConfigurationError("TESSERA_SMS_VOUCHERS_PER_NUMBER must be >= 1")
        if self.sms.number_days < 1:
            raise ConfigurationError("TESSERA_SMS_NUMBER_DAYS must be >= 1")
        if self.is_production and (missing := self.missing_in_production()):
            raise ConfigurationError("Production needs these set: " + "; ".join(missing))
        return self

    def missing_in_production(self) -> list[str]:
        """The variables production needs and these settings lack."""
        missing = []
        if not is_real_secret(self.security.code_secret):
            missing.append("TESSERA_CODE_SECRET (at least 32 random characters)")
        if not self.apple.configured:
            missing.append("TESSERA_APPLE_CERT_PATH, TESSERA_APPLE_KEY_PATH and TESSERA_APPLE_WWDR_PATH")
        if self.google.service_account_path is None:
            missing.append("TESSERA_GOOGLE_SERVICE_ACCOUNT_PATH")
        if self.google.root_keys_path is None:
            missing.append("TESSERA_GOOGLE_ROOT_KEYS_PATH")
        if not self.push.vapid_private_key:
            missing.append("TESSERA_VAPID_PRIVATE_KEY (`tessera vapid` makes one)")
        if self.messages.webhook_url is None:
            missing.append("TESSERA_MESSAGE_WEBHOOK_URL (sign-in codes go through it)")
        return missing

    def _check_message_webhook(self) -> None:
        """A webhook needs its signing secret and, in production off this machine, https."""
        messages = self.messages
        if messages.webhook_url is None:
            return
        parts = urlsplit(messages.webhook_url)
        if (
            self.is_production
            and parts.scheme != "https"
            and parts.hostname not in ("localhost", "127.0.0.1", "::1")
        ):
            raise ConfigurationError("TESSERA_MESSAGE_WEBHOOK_URL must be https in production")
        if not is_real_secret(messages.webhook_secret):
            raise ConfigurationError(
                "TESSERA_MESSAGE_WEBHOOK_SECRET must be at least 32 random characters when "
                "TESSERA_MESSAGE_WEBHOOK_URL is set"
            )


def is_real_secret(secret: str) -> bool:
    return secret.lower() not in PLACEHOLDER_SECRETS and len(secret) >= 32


# Reading: one loader for every declared field, by its declared type.


@dataclass(frozen=True, slots=True)
class DeclaredVariable:
    """One environment variable as the settings declare it: for documentation and tests."""

    path: tuple[str, ...]  # attribute names from Settings down to the field
    declaration: Declaration
    type: Any
    default: Any

    @property
    def variable(self) -> str:
        return self.declaration.variable


def declared_variables(
    section: type[Any] = Settings, path: tuple[str, ...] = ()
) -> Iterator[DeclaredVariable]:
    """Every variable of ``section`` and its subsections, in declaration order."""
    hints = _hints(section)
    for item in fields(section):
        kind = hints[item.name]
        if isinstance(kind, type) and is_dataclass(kind):
            yield from declared_variables(kind, (*path, item.name))
        elif (declaration := item.metadata.get(_DECLARATION)) is not None:
            yield DeclaredVariable((*path, item.name), declaration, kind, item.default)


def read_value(variable: str, kind: Any, raw: str) -> Any:
    """``raw`` read as ``kind``; ConfigurationError naming ``variable`` when it cannot be."""
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        (inner,) = (arg for arg in get_args(kind) if arg is not type(None))
        return read_value(variable, inner, raw)
    if origin is Annotated:
        base, *markers = get_args(kind)
        value = read_value(variable, base, raw)
        for marker in markers:
            if isinstance(marker, Text):
                value = marker.normalize(value)
        return value
    if origin is Literal:
        choices: tuple[str, ...] = get_args(kind)
        for choice in choices:
            if raw.strip().lower() == choice.lower():
                return choice
        raise ConfigurationError(f"{variable}: not one of {', '.join(choices)}: {raw!r}")
    if kind is bool:
        word = raw.strip().lower()
        if word in TRUE_WORDS | FALSE_WORDS:
            return word in TRUE_WORDS
        raise ConfigurationError(f"{variable}: not a boolean (true/false, 1/0, yes/no, on/off): {raw!r}")
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigurationError(f"{variable}: not an integer: {raw!r}") from None
    if kind is float:
        try:
            number = float(raw)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise ConfigurationError(f"{variable}: not a number: {raw!r}")
        return number
    if kind is Path:
        return Path(raw)
    if kind is str:
        return raw
    raise TypeError(f"{variable}: no reader for settings of type {kind!r}")


_Section = TypeVar("_Section")


def _read(section: type[_Section], environ: Mapping[str, str]) -> _Section:
    hints = _hints(section)
    values: dict[str, Any] = {}
    for item in fields(section):  # type: ignore[arg-type]
        kind = hints[item.name]
        if isinstance(kind, type) and is_dataclass(kind):
            values[item.name] = _read(kind, environ)
        elif (declaration := item.metadata.get(_DECLARATION)) is not None:
            raw = environ.get(declaration.variable, "")
            if raw.strip():
                values[item.name] = read_value(declaration.variable, kind, raw)
    return section(**values)


def _declared_texts(settings: Settings) -> Iterator[tuple[str, Text, str | None]]:
    for declared in declared_variables():
        kind = declared.type
        if get_origin(kind) in (Union, types.UnionType):
            (kind,) = (arg for arg in get_args(kind) if arg is not type(None))
        if get_origin(kind) is not Annotated:
            continue
        value: Any = settings
        for name in declared.path:
            value = getattr(value, name)
        for marker in get_args(kind)[1:]:
            if isinstance(marker, Text):
                yield declared.variable, marker, value


def _hints(section: type[Any]) -> dict[str, Any]:
    return get_type_hints(section, include_extras=True)
