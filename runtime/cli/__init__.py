"""The `relaykit` command: one module per command group (calls and listing in `app`, automations, validate, demo).

`relaykit.cli:main` stays a working entry point (the installed script points at `relaykit.cli.app:main`).
"""

from .app import main

__all__ = ["main"]
