"""Stores and the staff accounts that redeem coupons in them."""
