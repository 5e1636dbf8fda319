"""Example automations (package data): run by the tests against the sandbox and by `relaykit demo`."""
