"""Signed wallet links for coupons sent by e-mail or SMS (see ``tokens``)."""
