"""E-mail and SMS messages, handed off to the operator's own sending service through a webhook."""
