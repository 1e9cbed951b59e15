"""Triggered campaigns: coupons issued by what customers do (or do not do), not by a publish."""
