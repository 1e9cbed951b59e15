"""Stored first answers for requests a client may retry with the same ``Idempotency-Key``."""
