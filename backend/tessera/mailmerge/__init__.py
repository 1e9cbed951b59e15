"""Mail merges: rendered messages with per-message personal codes, streamed."""
