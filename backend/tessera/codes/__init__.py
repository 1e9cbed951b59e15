"""Coupon codes: formats and check characters, keyed derivation, and the one payload parser."""
