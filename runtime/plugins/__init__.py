"""The plugin layer: the hook contract, a runtime's plugin manager, the registrars, the essential built-ins."""
