"""Apple Wallet passes of coupons: what a pass shows, and the web service's bookkeeping.

A pass is identified by its serial number (the coupon id) and authenticated by a per-pass token
derived from the code secret, so nothing per pass is stored until a device registers it. It
shows what the offer rules show the coupon's owner (``offers.state.listing_of``): a coupon whose
offer is used up reads so, and is void. Its version is the latest of its coupon's ``issued_at``,
``pass_updated_at`` and ``redeemed_at``, its campaign's ``passes_changed_at`` and its owner's
counter's ``passes_changed_at`` (``wallet.changes``); its entity tag (``ShownPass.etag``) tells
versions apart at full precision, which an HTTP date cannot.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.campaigns.rules import code_display, code_for, discount_of, discount_text
from tessera.codes.keys import CodeKeys
from tessera.codes.payloads import payload_for
from tessera.core.errors import ConfigurationError, NotAuthenticated, NotFound
from tessera.core.settings import Settings
from tessera.events.log import record_for_coupon
from tessera.models.campaigns import Campaign
from tessera.models.coupons import Coupon
from tessera.models.redemptions import CustomerRedemptionCount
from tessera.models.stores import Store
from tessera.models.wallet_apple import AppleDevice, AppleRegistration
from tessera.offers.refusals import CouponStatus
from tessera.offers.state import listed
from tessera.wallet.apple.pass_builder import ApplePassBuilder, PassContent
from tessera.wallet.apple.signing import PassSigner
from tessera.wallet.design import loaded

MAX_LOCATIONS = 10
AUTH_SCHEME = "ApplePass "


class PassNotFound(NotFound):
    code = "pass_not_found"
    title = "No such pass"


class PassUnauthorized(NotAuthenticated):
    code = "pass_unauthorized"
    title = "Not authorized for this pass"


def pass_version(coupon: Coupon, *changes: datetime | None) -> datetime:
    """When the pass last changed: issue, redemption, any other change of the coupon (void,
    revocation, expiry notice), or ``changes`` beyond it (the campaign's, the owner's limit)."""
    moments = (coupon.issued_at, coupon.pass_updated_at, coupon.redeemed_at, *changes)
    return max(moment for moment in moments if moment)


@dataclass(frozen=True, slots=True)
class ShownPass:
    """A coupon's pass as it is shown now: ``status`` is the offer rules' listing answer, and
    ``owner_changed_at`` when its owner's limit in the campaign last turned."""

    coupon: Coupon
    campaign: Campaign
    status: CouponStatus
    owner_changed_at: datetime | None = None

    @property
    def version(self) -> datetime:
        return pass_version(self.coupon, self.campaign.passes_changed_at, self.owner_changed_at)

    @property
    def etag(self) -> str:
        """A weak entity tag (every build is signed anew) of what the pass shows, at full
        precision: beside the change times it holds ``redemption_seq`` and the status, so a
        redemption and its void, or a limit spent and freed, at the very same instant are still
        two versions."""
        coupon = self.coupon
        moments = (
            coupon.issued_at,
            coupon.pass_updated_at,
            coupon.redeemed_at,
            self.campaign.passes_changed_at,
            self.owner_changed_at,
        )
        state = (
            coupon.redemption_seq,
            self.status,
            *("" if moment is None else _microseconds(moment) for moment in moments),
        )
        digest = hashlib.blake2b(repr(state).encode(), digest_size=12).hexdigest()
        return f'W/"{digest}"'

    def validators(self) -> dict[str, str]:
        """``ETag`` and ``Last-Modified`` of the pass; the HTTP date drops the version's fraction."""
        return {"ETag": self.etag, "Last-Modified": format_datetime(self.version, usegmt=True)}


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _microseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def update_tag(moment: datetime) -> str:
    """``passesUpdatedSince`` tags are opaque to devices: microseconds since the epoch, the full
    precision of the stored times, so a change in the same second as the tag is still after it."""
    return str(_microseconds(moment))


def parse_tag(tag: str | None) -> datetime | None:
    if not tag or not (tag.isascii() and tag.isdigit()) or len(tag) > 20:
        return None
    try:
        return _EPOCH + int(tag) * _MICROSECOND
    except OverflowError:  # beyond year 9999: no tag we gave out
        return None


class ApplePasses:
    def __init__(
        self,
        settings: Settings,
        keys: CodeKeys,
        builder: ApplePassBuilder,
        store_card_builder: ApplePassBuilder | None = None,
    ) -> None:
        self._settings = settings
        self._keys = keys
        self._builder = builder
        self._store_card_builder = store_card_builder
        self.pass_type_identifier = settings.apple.pass_type_identifier
        self.web_service_url = f"{settings.public_url}/wallet/apple"

    @classmethod
    def from_settings(cls, settings: Settings, keys: CodeKeys) -> ApplePasses:
        apple = settings.apple
        if apple.cert_path is None or apple.key_path is None or apple.wwdr_path is None:
            raise ConfigurationError(
                "No pass certificate: set TESSERA_APPLE_* (or use tessera.assembly.devkit)"
            )
        signer = PassSigner(apple.cert_path, apple.key_path, apple.wwdr_path, apple.key_password)
        builders = [
            ApplePassBuilder(
                template_dir,
                signer,
                apple.pass_type_identifier,
                apple.team_identifier,
                apple.organization_name,
            )
            for template_dir in (apple.template_dir, apple.store_card_template_dir)
        ]
        return cls(settings, keys, *builders)

    @staticmethod
    def serial_of(coupon_id: int) -> str:
        return str(coupon_id)

    def authorize(self, serial: str, authorization: str | None) -> int:
        """The coupon id of ``serial`` if ``authorization`` carries its pass token; else 401."""
        if not (serial.isascii() and serial.isdigit()) or len(serial) > 18 or not authorization:
            raise PassUnauthorized
        if not authorization.startswith(AUTH_SCHEME):
            raise PassUnauthorized
        coupon_id = int(serial)
        presented = authorization[len(AUTH_SCHEME) :].strip()
        if not hmac.compare_digest(presented.encode(), self._keys.pass_token(coupon_id).encode()):
            raise PassUnauthorized
        return coupon_id

    async def shown(
        self, session: AsyncSession, coupon: Coupon, campaign: Campaign, now: datetime
    ) -> ShownPass:
        """The coupon's pass as the offer rules show it now, read in ``session``."""
        # The counter's change time counts even where the campaign no longer sets the limit, as
        # in ``AppleWebService.changed_serials``; the rules read its count only where it does.
        count = None
        if coupon.customer_id is not None:
            count = await session.get(CustomerRedemptionCount, (campaign.id, coupon.customer_id))
        status = listed(coupon, campaign, count.redeemed if count else 0, now)
        return ShownPass(coupon, campaign, status, count.passes_changed_at if count else None)

    def content(self, shown: ShownPass, stores: Sequence[Store], now: datetime) -> PassContent:
        coupon, campaign, status = shown.coupon, shown.campaign, shown.status
        design = loaded(campaign.wallet_design)
        code = code_for(self._keys, campaign, coupon.serial)
        expiring_soon = status == "active" and coupon.expires_at - now <= timedelta(
            hours=self._settings.worker.expiry_notice_hours
        )
        texts = {
            language: {
                key: value
                for key, value in (("title", t.title), ("description", t.description), ("terms", t.terms))
                if value
            }
            for language, t in design.texts.items()
        }
        return PassContent(
            serial_number=self.serial_of(coupon.id),
            authentication_token=self._keys.pass_token(coupon.id),
            web_service_url=self.web_service_url,
            description=campaign.description or campaign.name,
            organization_name=self._settings.apple.organization_name,
            # The template's own logo carries the wordmark; a campaign logo gets the name beside it.
            logo_text=design.logo_text
            if design.logo_text is not None
            else (self._settings.apple.organization_name if campaign.wallet_logo else ""),
            title=campaign.name,
            discount_text=discount_text(discount_of(campaign)),
            expires_at=coupon.expires_at,
            status="active" if status == "scheduled" else status,
            expiring_soon=expiring_soon,
            redeemed_at=coupon.redeemed_at,
            barcode_message=payload_for(code, "apple_wallet"),
            barcode_alt_text=code_display(campaign, code),
            details=campaign.description,
            terms=design.terms or "",
            locations=tuple(
                (store.latitude, store.longitude, store.name)
                for store in stores
                if store.latitude is not None and store.longitude is not None
            )[:MAX_LOCATIONS],
            background_color=design.background_color,
            foreground_color=design.foreground_color,
            label_color=design.label_color,
            logo_png=campaign.wallet_logo,
            texts=texts,
        )

    async def build(self, shown: ShownPass, stores: Sequence[Store], now: datetime) -> bytes:
        """The signed .pkpass; signing is CPU work, kept off the event loop."""
        content = self.content(shown, stores, now)
        return await asyncio.to_thread(self._builder.build, content)

    async def build_store_card(self, content: PassContent) -> bytes:
        """A signed member card (store card) with ``content``; see ``members.wallet``."""
        if self._store_card_builder is None:
            raise ConfigurationError("No store card template")
        return await asyncio.to_thread(self._store_card_builder.build, content)

    async def stores(self, session: AsyncSession) -> list[Store]:
        """Stores with a known location, for the pass's lock-screen relevance."""
        return list(
            await session.scalars(
                select(Store)
                .where(Store.latitude.is_not(None), Store.longitude.is_not(None))
                .order_by(Store.id)
                .limit(MAX_LOCATIONS)
            )
        )

    async def coupon(self, session: AsyncSession, coupon_id: int, now: datetime) -> ShownPass:
        row = (
            await session.execute(
                select(Coupon, Campaign)
                .join(Campaign, Campaign.id == Coupon.campaign_id)
                .where(Coupon.id == coupon_id, Coupon.customer_id.is_not(None))
            )
        ).first()
        if row is None:
            raise PassNotFound
        return await self.shown(session, row[0], row[1], now)


class AppleWebService:
    """Device registrations: each is "saved to Apple Wallet" until the device unregisters."""

    def __init__(self, passes: ApplePasses) -> None:
        self.passes = passes

    def check_pass_type(self, pass_type_identifier: str) -> None:
        if pass_type_identifier != self.passes.pass_type_identifier:
            raise PassNotFound

    @staticmethod
    async def _coupon(session: AsyncSession, coupon_id: int) -> Coupon:
        coupon = await session.get(Coupon, coupon_id)
        if coupon is None or coupon.customer_id is None:
            raise PassNotFound
        return coupon

    async def register(
        self, session: AsyncSession, library_id: str, coupon_id: int, push_token: str, now: datetime
    ) -> bool:
        """True when the pass is new on this device (201), False when it was known (200)."""
        coupon = await self._coupon(session, coupon_id)
        device = await session.scalar(select(AppleDevice).where(AppleDevice.library_id == library_id))
        if device is None:
            device = AppleDevice(library_id=library_id, push_token=push_token, created_at=now, updated_at=now)
            session.add(device)
            await session.flush()
        elif device.push_token != push_token:
            device.push_token, device.updated_at = push_token, now
        known = await session.get(AppleRegistration, (device.id, coupon_id))
        if known is not None:
            return False
        session.add(AppleRegistration(device_id=device.id, coupon_id=coupon_id, created_at=now))
        coupon.wallet_added_at = coupon.wallet_added_at or now
        await record_for_coupon(session, "wallet_saved", now, coupon, medium="apple_wallet")
        return True

    async def unregister(self, session: AsyncSession, library_id: str, coupon_id: int, now: datetime) -> None:
        coupon = await self._coupon(session, coupon_id)
        device_id = await session.scalar(select(AppleDevice.id).where(AppleDevice.library_id == library_id))
        if device_id is None:
            return
        removed = await session.execute(
            delete(AppleRegistration).where(
                AppleRegistration.device_id == device_id, AppleRegistration.coupon_id == coupon_id
            )
        )
        if removed.rowcount:  # type: ignore[attr-defined]
            await record_for_coupon(session, "wallet_removed", now, coupon, medium="apple_wallet")

    async def changed_serials(
        self, session: AsyncSession, library_id: str, since: str | None
    ) -> tuple[list[str], str] | None:
        """Serial numbers of the device's passes changed after the tag ``since``, and the new tag."""
        rows = await session.execute(
            select(Coupon, Campaign.passes_changed_at, CustomerRedemptionCount.passes_changed_at)
            .join(AppleRegistration, AppleRegistration.coupon_id == Coupon.id)
            .join(AppleDevice, AppleDevice.id == AppleRegistration.device_id)
            .join(Campaign, Campaign.id == Coupon.campaign_id)
            .outerjoin(
                CustomerRedemptionCount,
                (CustomerRedemptionCount.campaign_id == Coupon.campaign_id)
                & (CustomerRedemptionCount.customer_id == Coupon.customer_id),
            )
            .where(AppleDevice.library_id == library_id)
        )
        after = parse_tag(since)
        versions = [(pass_version(coupon, *changes), coupon.id) for coupon, *changes in rows]
        changed = [
            (version, coupon_id) for version, coupon_id in versions if after is None or version > after
        ]
        if not changed:
            return None
        latest = max(version for version, _ in changed)
        return [self.passes.serial_of(coupon_id) for _, coupon_id in sorted(changed)], update_tag(latest)

    async def forget_push_token(self, session: AsyncSession, push_token: str, now: datetime) -> int:
        """APNs says the token is gone: drop its devices' registrations (each a removal)."""
        registrations = (
            await session.execute(
                select(AppleRegistration.device_id, Coupon)
                .join(AppleDevice, AppleDevice.id == AppleRegistration.device_id)
                .join(Coupon, Coupon.id == AppleRegistration.coupon_id)
                .where(AppleDevice.push_token == push_token)
            )
        ).all()
        for _, coupon in registrations:
            await record_for_coupon(
                session,
                "wallet_removed",
                now,
                coupon,
                medium="apple_wallet",
                data={"reason": "apns_device_gone"},
            )
        device_ids = {device_id for device_id, _ in registrations}
        if device_ids:
            await session.execute(
                delete(AppleRegistration).where(AppleRegistration.device_id.in_(device_ids))
            )
        await session.execute(delete(AppleDevice).where(AppleDevice.push_token == push_token))
        return len(registrations)
