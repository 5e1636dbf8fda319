"""Built-in connectors; each sub-package is one pluggy plugin registered by entry point."""
