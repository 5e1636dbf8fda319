"""`pattern` is anchored as in ECMA-262: `$` is the end of the string, never "before a final newline"."""

from __future__ import annotations

import re

import pytest
from canary_scan import SITE_ID, TRACK_KEY
from relaykit import InputValidationError
from relaykit.specs.jsonschemas import ecma_pattern


@pytest.mark.parametrize(("pattern", "text", "matches"), [
    ("^[0-9]+$", "12", True),
    ("^[0-9]+$", "12\n", False),  # Python's `$` alone would accept this
    ("^a$|^b$", "b\n", False),
    (r"^a\$$", "a$", True),  # an escaped dollar stays a literal
    ("^[$]+$", "$$", True),  # and so does one inside a class
    ("^[]$]+$", "]$", True),  # a leading "]" is a literal, the class still ends at the next one
    ("^[^]$]+$", "ab", True),
    ("^[^]$]+$", "a$", False),
    ("a", "xay", True),  # unanchored patterns still search
    ("^x", "x\n", True),
])
def test_dollar_means_the_end_of_the_string(pattern, text, matches):
    assert (ecma_pattern(pattern).search(text) is not None) is matches
    assert re.compile(pattern)  # every case is valid Python regex to begin with


def test_a_trailing_newline_on_an_id_is_refused_before_sending(rt):
    """The fuzzer found it: `event_id` `"<ULID>\\n"` passed the ULID pattern."""
    with pytest.raises(InputValidationError) as info:
        rt.dry_run("customerio-track.track_event", {"identifier": "a", "name": "n",
                                                    "event_id": "01HZY7K8Q4W9X2M5N6P3R1T0VA\n"},
                   {"site_id": SITE_ID, "api_key": TRACK_KEY})
    assert "/event_id" in str(info.value)
