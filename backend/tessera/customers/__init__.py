"""Registered customers and their recorded consents."""
