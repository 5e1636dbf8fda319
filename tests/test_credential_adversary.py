"""Issue 12's adversarial run at a small scale: every fixed credential surface, zero failures.

The recorded run (`.venv/bin/python tests/credential_adversary.py`, scale 1) is in docs/reliability.md.
"""

from __future__ import annotations

from credential_adversary import run


def test_the_adversary_finds_nothing(sandbox, figures):
    tally = run(seed=12, scale=0.05, sandbox=sandbox)
    figures.add("S8", "adversary (scale 0.05): " + "; ".join(
        f"{area} {tries}/{failed}" for area, (tries, failed) in tally.rows.items()) + " (tries/failures)")
    assert set(tally.rows) == {"sandbox_url", "peer", "debug-print", "locals", "headers", "webhook-headers",
                               "headers-reason", "headers-wire"}
    assert all(tries > 0 for tries, _ in tally.rows.values())
    assert tally.failures() == 0, tally.report()
