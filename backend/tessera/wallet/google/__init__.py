"""Google Wallet offers: save links, callbacks and object state updates."""
