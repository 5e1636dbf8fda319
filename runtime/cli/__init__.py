"""The `relaykit` command: parser and dispatch (`app`), one module per command group, the demo.

`relaykit.cli:main` stays a working entry point (the installed script points at `relaykit.cli.app:main`).
"""

from .app import main

__all__ = ["main"]
