"""Google Wallet offers of coupons: save links, and the save/delete callbacks from Google.

The save link carries the offer class (one per campaign) and object (one per coupon) inside a
JWT signed with the service account, so saving works without a prior API call. An object row
is kept from the first link on; Google's "save" callback marks it saved, which is when later
changes (a redemption) start to be sent to Google's API through the outbox.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tessera.campaigns.rules import code_display, code_for, discount_of, discount_text
from tessera.codes.keys import CodeKeys
from tessera.codes.payloads import payload_for
from tessera.core.errors import ConfigurationError, DomainError
from tessera.core.settings import Settings
from tessera.events.log import record_for_coupon
from tessera.models.campaigns import Campaign
from tessera.models.coupons import Coupon
from tessera.models.wallet_google import GoogleCallbackNonce, GoogleWalletObject
from tessera.offers.refusals import CouponStatus
from tessera.offers.state import listing_of
from tessera.wallet.design import loaded
from tessera.wallet.google.callbacks import (
    CallbackMessage,
    CallbackVerifier,
    InvalidCallback,
    UntrustedCallback,
    load_root_keys,
)
from tessera.wallet.google.loyalty import LoyaltyContent, LoyaltyTemplates
from tessera.wallet.google.objects import (
    OFFER_STATES,
    LocalizedTexts,
    OfferContent,
    OfferTemplates,
    object_id,
)
from tessera.wallet.google.save_link import loyalty_save_url, save_url
from tessera.wallet.google.service_account import ServiceAccount


class CallbackRefused(DomainError):
    """The body is not a Google Wallet callback message (it does not decode as one)."""

    status = 400
    code = "invalid_callback"
    title = "The callback is not a valid signed Google Wallet message"


class CallbackNotTrusted(DomainError):
    """A well-formed callback whose signatures do not verify for our issuer, or that has expired:
    the sender is not Google, or not now."""

    status = 403
    code = "callback_not_trusted"
    title = "The callback is not signed by Google for this issuer"


class CallbacksNotConfigured(DomainError):
    """No root keys are configured (``TESSERA_GOOGLE_ROOT_KEYS_PATH``): there is no callback
    endpoint to deliver to."""

    status = 404
    code = "callbacks_not_configured"
    title = "Google Wallet callbacks are not configured"


class GoogleWallet:
    def __init__(
        self,
        settings: Settings,
        keys: CodeKeys,
        account: ServiceAccount,
        templates: OfferTemplates,
        verifier: CallbackVerifier | None,
        loyalty: LoyaltyTemplates | None = None,
    ) -> None:
        self._settings = settings
        self._keys = keys
        self.account = account
        self._templates = templates
        self._verifier = verifier
        self._loyalty = loyalty
        self.issuer_id = settings.google.issuer_id

    @classmethod
    def from_settings(cls, settings: Settings, keys: CodeKeys) -> GoogleWallet:
        google = settings.google
        if google.service_account_path is None:
            raise ConfigurationError("No Google service account: set TESSERA_GOOGLE_SERVICE_ACCOUNT_PATH")
        verifier = None
        if google.root_keys_path is not None:
            verifier = CallbackVerifier(google.issuer_id, load_root_keys(google.root_keys_path))
        return cls(
            settings,
            keys,
            ServiceAccount.from_file(google.service_account_path),
            OfferTemplates.load(google.template_dir),
            verifier,
            LoyaltyTemplates.load(google.template_dir),
        )

    def content(self, coupon: Coupon, campaign: Campaign, status: CouponStatus) -> OfferContent:
        """The offer's class and object; ``status`` is what the owner is shown now (the offer
        rules' listing answer, ``offers.state.listing_of``)."""
        design = loaded(campaign.wallet_design)
        code = code_for(self._keys, campaign, coupon.serial)
        return OfferContent(
            issuer_id=self.issuer_id,
            campaign_id=campaign.id,
            coupon_id=coupon.id,
            issuer_name=self._settings.apple.organization_name,
            provider=self._settings.apple.organization_name,
            title=campaign.name,
            details=campaign.description,
            terms=design.terms or "",
            discount_text=discount_text(discount_of(campaign)),
            background_color=design.background_color,
            logo_url=None,
            callback_url=f"{self._settings.public_url}/wallet/google/callback",
            barcode_value=payload_for(code, "google_wallet"),
            barcode_alt_text=code_display(campaign, code),
            valid_from=coupon.starts_at,
            valid_until=coupon.expires_at,
            state=OFFER_STATES[status],
            translations=tuple(
                LocalizedTexts(language, texts.title, texts.description, texts.terms)
                for language, texts in design.texts.items()
            ),
        )

    async def save_link(
        self, session: AsyncSession, coupon: Coupon, campaign: Campaign, now: datetime
    ) -> str:
        """A "save to Google Wallet" link for the coupon; its object is remembered."""
        content = self.content(coupon, campaign, await listing_of(session, coupon, campaign, now))
        object_name = object_id(self.issuer_id, coupon.id)
        known = await session.get(GoogleWalletObject, coupon.id)
        if known is None:
            try:
                async with session.begin_nested():
                    session.add(
                        GoogleWalletObject(coupon_id=coupon.id, object_id=object_name, created_at=now)
                    )
            except IntegrityError:
                pass  # a concurrent first link made the row
        return save_url(
            self.account,
            self._templates.offer_class(content),
            self._templates.offer_object(content),
            [self._settings.public_url],
            now,
        )

    def member_card_link(self, content: LoyaltyContent, now: datetime) -> str:
        """A "save to Google Wallet" link of a member card (see ``members.wallet``)."""
        if self._loyalty is None:
            raise ConfigurationError("No Google Wallet loyalty templates")
        return loyalty_save_url(
            self.account,
            self._loyalty.loyalty_class(content),
            self._loyalty.loyalty_object(content),
            [self._settings.public_url],
            now,
        )

    def verify(self, body: bytes, now: datetime) -> CallbackMessage:
        if self._verifier is None:
            raise CallbacksNotConfigured(
                "Google Wallet callbacks are not configured (TESSERA_GOOGLE_ROOT_KEYS_PATH)"
            )
        try:
            return self._verifier.verify(body, now)
        except UntrustedCallback as error:
            raise CallbackNotTrusted(f"Callback refused: {error}") from error
        except InvalidCallback as error:
            raise CallbackRefused(f"Callback refused: {error}") from error

    async def record_callback(self, session: AsyncSession, message: CallbackMessage, now: datetime) -> bool:
        """Apply a verified save/delete; False when this nonce was already handled."""
        try:
            async with session.begin_nested():
                session.add(GoogleCallbackNonce(nonce=message.nonce, received_at=now))
        except IntegrityError:
            return False
        row = (
            await session.execute(
                select(GoogleWalletObject, Coupon)
                .join(Coupon, Coupon.id == GoogleWalletObject.coupon_id)
                .where(GoogleWalletObject.object_id == message.object_id)
            )
        ).first()
        if row is None:
            return True  # an object of another system under the same issuer: nothing of ours
        wallet_object, coupon = row
        saved = message.event_type == "save"
        if saved:
            wallet_object.saved_at, wallet_object.removed_at = now, None
            coupon.wallet_added_at = coupon.wallet_added_at or now
        else:
            wallet_object.removed_at = now
        await record_for_coupon(
            session, "wallet_saved" if saved else "wallet_removed", now, coupon, medium="google_wallet"
        )
        return True
