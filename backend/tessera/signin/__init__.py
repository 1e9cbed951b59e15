"""Customer sign-in with one-time codes sent by e-mail or SMS, and its abuse limits."""
