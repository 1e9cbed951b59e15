"""Coupons: one code each, personal or unassigned, with its life as nullable timestamps."""
