"""Channel connectors: one package per channel (push webhooks, pull pollers, send)."""
