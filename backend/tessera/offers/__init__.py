"""The offer rules: whether a coupon can be used now, and why not.

``rules`` decides, ``refusals`` names each answer once (status, problem code, data fields, what
the customer's listing shows), ``errors`` turns an answer into the problem it is, and ``state``
reads what the rules need from the database. Every reader of the answer asks here: the
redemption ledgers (the SQLite one calls ``rules``; ``tessera_redeem`` on PostgreSQL mirrors it,
held to it by the contract test), validate, what a coupon's owner is shown (the listings, the
wallet passes, the wallet-link page), the pushes and reminders, the member-card lookup, prizes
and triggers.
"""
