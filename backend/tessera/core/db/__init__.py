"""Database plumbing: the declarative base, engines and sessions, the SQLite writer thread and
migrations. The models live in ``tessera.models``."""
