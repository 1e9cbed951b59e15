"""The HTTP layer: controllers, guards, problem-details answers, the redemption fast path and
the static PWA. Domains never import it; only the assembly does."""
