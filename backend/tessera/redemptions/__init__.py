"""Redeeming, validating and voiding coupons at the till."""
