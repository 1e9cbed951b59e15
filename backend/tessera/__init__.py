"""Tessera: personal coupons delivered to wallets and redeemed exactly once at the till."""
