"""Packing is exact to the encoded byte: every body keeps the limits, and none could have held one item more."""

from __future__ import annotations

import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st
from relaykit.delivery.packing import SENTINEL, Envelope, Packer, Pending


def test_envelope_is_split_around_the_rendered_item_list():
    body = json.dumps({"batch": [SENTINEL], "context": {"a": 1}}, separators=(",", ":")).encode()
    env = Envelope.split(body, {"max_body_bytes": 100, "max_item_bytes": 10})
    assert env.prefix == b'{"batch":[' and env.suffix == b'],"context":{"a":1}}'
    assert env.body([Pending(0, None, b"1"), Pending(1, None, b'"x"')]) == b'{"batch":[1,"x"],"context":{"a":1}}'
    assert env.item_problem(11) == "the batch item is 11 bytes; the limit per item is 10 bytes"
    assert env.item_problem(10) is None


@settings(max_examples=200, deadline=None)
@given(sizes=st.lists(st.integers(1, 60), min_size=1, max_size=200), cap=st.integers(80, 400),
       most=st.none() | st.integers(1, 12))
def test_every_body_fits_and_is_full(sizes, cap, most):
    env = Envelope(b'{"batch":[', b"]}", cap, 60, most)
    packer = Packer(env)
    rng = random.Random(len(sizes))
    items = [Pending(i, None, json.dumps("x" * (n - 2) if n > 1 else rng.randint(0, 9)).encode())
             for i, n in enumerate(sizes)]
    batches = []
    for item in items:
        assert len(item.encoded) == max(sizes[item.index], 1)
        done = packer.add(item)
        if done:
            batches.append(done)
        assert packer.size == len(env.body(packer._items))  # the running size is the exact body length
    batches.append(packer.flush())
    assert [p.index for b in batches for p in b] == list(range(len(items)))  # order kept, nothing lost
    for batch, following in zip(batches, [*batches[1:], None], strict=True):
        body = env.body(batch)
        assert len(body) <= cap and (most is None or len(batch) <= most)
        json.loads(body)
        if following:  # closed because the next item did not fit
            grown = env.body([*batch, following[0]])
            assert len(grown) > cap or (most is not None and len(batch) == most)
