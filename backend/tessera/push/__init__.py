"""Web Push: VAPID keys, subscriptions, and notifications delivered through the outbox."""
