"""P2: `Runtime.dry_run` (validate + render + auth, no I/O) vs compiled jsonschema + `requests.Request.prepare()`."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any
from urllib.parse import quote

import requests
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from bench import clients
from bench.stats import interleave, summarise

ROOT = "http://127.0.0.1:9"  # nothing is sent; any loopback root makes a valid sandbox connection
BASE_URI = "https://bench.invalid/"
CREDENTIALS = {"site_id": "sandbox-site", "track_api_key": "sandbox-track-key"}


def _schema(name: str) -> dict[str, Any]:
    return json.loads(resources.files("relaykit.schemas").joinpath(name).read_text(encoding="utf-8"))


def compiled_validator(name: str) -> Draft202012Validator:
    """What careful hand-written code validates with: the schema compiled once, its `$ref`s preloaded."""
    registry: Registry = Registry()
    for shared in ("common/customerio.json",):
        registry = registry.with_resource(BASE_URI + shared, Resource.from_contents(_schema(shared)))
    schema = {**_schema(name), "$id": BASE_URI + name}
    registry = registry.with_resource(schema["$id"], Resource.from_contents(schema)).crawl()
    return Draft202012Validator(schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)


def run_dry(*, rounds: int, calls: int, warmup: int) -> list[dict[str, Any]]:
    from relaykit import Runtime

    rt = Runtime()
    conn = {"site_id": CREDENTIALS["site_id"], "api_key": CREDENTIALS["track_api_key"], "region": "us",
            "sandbox_url": ROOT}
    base = f"{ROOT}/customerio-track/us/api"
    auth = {"Authorization": clients.basic_header(CREDENTIALS["site_id"], CREDENTIALS["track_api_key"]),
            "Accept": "application/json"}
    people = clients.identifiers()
    figures = []
    try:
        track_validator = compiled_validator("customerio-track/track_event.input.json")

        def rk_track() -> Any:
            return rt.dry_run("customerio-track.track_event",
                              {"identifier": next(people), "name": "signed_up", "data": {"plan": "pro"}}, conn)

        def base_track() -> Any:
            data = {"identifier": next(people), "name": "signed_up", "data": {"plan": "pro"}}
            track_validator.validate(data)
            url = f"{base}/v1/customers/{quote(data['identifier'], safe='')}/events"
            body = {"name": data["name"], "data": data["data"], "id": clients.ulid()}
            return requests.Request("POST", url, json=body, headers=auth).prepare()

        identify_validator = compiled_validator("customerio-track/create_or_update_customer.input.json")
        attributes = {"first_name": "Ada", "plan": "pro"}

        def rk_identify() -> Any:
            who = next(people)
            return rt.dry_run("customerio-track.create_or_update_customer",
                              {"identifier": who, "email": who, "attributes": attributes}, conn)

        def base_identify() -> Any:
            who = next(people)
            data = {"identifier": who, "email": who, "attributes": attributes}
            identify_validator.validate(data)
            url = f"{base}/v1/customers/{quote(who, safe='')}"
            return requests.Request("PUT", url, json={**attributes, "email": who}, headers=auth).prepare()

        for label, rk, baseline in (("track_event", rk_track, base_track),
                                    ("create_or_update_customer", rk_identify, base_identify)):
            comp = interleave([("relaykit", rk), ("baseline", baseline)], rounds=rounds, calls=calls, warmup=warmup)
            spread = summarise(comp.differences("relaykit", "baseline"))
            figures.append({
                "id": "P2", "figure": f"dry_run {label} - (compiled jsonschema + Request.prepare) (µs)",
                "kind": "difference_us", "value": spread["median"], "spread": spread, "target": 40.0,
                "target_text": "<= +40 µs", "met": spread["median"] <= 40.0,
                "context_us": {"relaykit": comp.median_us("relaykit"), "baseline": comp.median_us("baseline")},
            })
    finally:
        rt.close()
    return figures
