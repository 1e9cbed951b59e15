"""Campaigns: the rules of an offer (discount, window, limits, segment, code format)."""
