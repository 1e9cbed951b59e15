"""Contests for codes printed under caps and labels: points collections and instant wins."""
