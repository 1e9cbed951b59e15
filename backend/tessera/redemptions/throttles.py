"""The failure budgets the ledger keeps, one rule per thing a guesser could hammer."""

from __future__ import annotations

from tessera.core.settings import ThrottleSettings
from tessera.redemptions.ledger import ThrottleRule


class Throttles:
    def __init__(self, settings: ThrottleSettings) -> None:
        self._settings = settings

    def scan(self, staff_id: int, store_id: int | None) -> ThrottleRule:
        """Failed-scan budgets of the staff account, of its store and of all scans together
        (many accounts guessing at once)."""
        throttle = self._settings
        budgets = [(f"staff:{staff_id}", throttle.failed_scans_per_window)]
        if store_id is not None:
            budgets.append((f"store:{store_id}", throttle.failed_scans_per_store))
        budgets.append(("scans", throttle.failed_scans_in_all))
        return ThrottleRule(tuple(budgets), throttle.window_seconds)

    def login(self, username: str) -> ThrottleRule:
        throttle = self._settings
        subject = f"login:{username.lower()[:50]}"
        return ThrottleRule(((subject, throttle.failed_scans_per_window),), throttle.window_seconds)

    def wallet_link(self, coupon_id: int) -> ThrottleRule:
        """Uses of one coupon's signed wallet link (each builds a pass or a save link and records
        an event): a link passed around cannot be made to cost more than this per window."""
        throttle = self._settings
        return ThrottleRule(
            ((f"wallet-link:{coupon_id}", throttle.wallet_link_uses),), throttle.window_seconds
        )

    def registration(self, address: str) -> ThrottleRule:
        """Registrations per client address: every attempt counts (a duplicate's 409 would
        otherwise tell a script which e-mail addresses are registered, at any speed)."""
        throttle = self._settings
        subject = f"register:{address[:50]}"
        return ThrottleRule(((subject, throttle.registrations_per_address),), throttle.window_seconds)
