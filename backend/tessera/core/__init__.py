"""The bottom layer: clock, errors, logging, settings and the database plumbing.

Nothing here imports another part of Tessera (``lint-imports`` checks it)."""
