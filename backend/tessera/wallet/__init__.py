"""Wallet passes: Apple Wallet and Google Wallet."""
