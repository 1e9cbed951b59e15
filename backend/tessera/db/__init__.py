"""Database access: SQLAlchemy models and sessions, plus the raw hot-path connections."""
