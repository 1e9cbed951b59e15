"""Who may call what: marketer API keys, staff accounts and sessions, customer tokens."""
