"""The durable outbox: effects outside the database, written with the change that causes them."""
