"""`request.base: host`: an endpoint beside the connector's API path, pinned to the host by the connector."""

from __future__ import annotations

import pytest
from relaykit import InputValidationError, RenderError, Runtime

TRACK = {"site_id": "site-0001", "api_key": "track-key-host-base-0001"}


@pytest.fixture(scope="module")
def rt():
    with Runtime() as runtime:
        yield runtime


@pytest.mark.parametrize(("region", "host"), [("us", "track.customer.io"), ("eu", "track-eu.customer.io")])
def test_unsubscribe_goes_to_the_host_root_of_the_region(rt, region, host):
    request = rt.dry_run("customerio-track.unsubscribe", {"delivery_id": "d/1="}, {**TRACK, "region": region})
    assert request.url == f"https://{host}/unsubscribe/d%2F1%3D"
    assert request.json == {"unsubscribe": True}


def test_a_sandbox_connection_keeps_the_sandbox_prefix(rt):
    conn = {**TRACK, "sandbox_url": "http://127.0.0.1:9"}
    request = rt.dry_run("customerio-track.unsubscribe", {"delivery_id": "d1"}, conn)
    assert request.url == "http://127.0.0.1:9/customerio-track/us/unsubscribe/d1"
    assert rt.dry_run("customerio-track.get_region", {}, conn).url == \
        "http://127.0.0.1:9/customerio-track/us/api/v1/accounts/region"


@pytest.mark.parametrize("endpoint", ["/../unsubscribe/d1", "/%2e%2e/unsubscribe/d1", "/..%2Funsubscribe/d1"])
def test_raw_http_stays_under_the_api_path(rt, endpoint):
    with pytest.raises((InputValidationError, RenderError)):  # refused before anything is sent
        rt.dry_run("customerio-track.raw_http_request", {"method": "POST", "endpoint": endpoint}, TRACK)
