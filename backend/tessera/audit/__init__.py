"""Who did what to what, and when: the audit trail of marketers\x27, admins\x27 and staff\x27s actions."""
