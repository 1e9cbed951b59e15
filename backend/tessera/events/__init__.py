"""The append-only event log that analytics reads; written in the same transaction as each change."""
