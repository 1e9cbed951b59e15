"""The two-way SMS channel: inbound messages read as commands, replies through the outbox."""
