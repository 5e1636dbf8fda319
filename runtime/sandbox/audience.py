"""Audience filters of the App API (people and object filters): validation and matching."""

from __future__ import annotations

from typing import Any

from .limits import attribute_string
from .messages import ApiError, Request
from .person import Person
from .state import Workspace


def check_filter(flt: Any, *, object_filter: bool = False) -> None:
    """Refuse (400) a filter the App API would not accept."""
    leaf = "object_attribute" if object_filter else "attribute"
    keys = ("and", "or", "not", leaf) if object_filter else ("and", "or", "not", "segment", leaf)
    if not isinstance(flt, dict) or len(flt) != 1 or next(iter(flt)) not in keys:
        raise ApiError(400, f"a filter must be an object with exactly one of {', '.join(keys)}")
    (key, value), = flt.items()
    if key in ("and", "or"):
        if not isinstance(value, list) or not value:
            raise ApiError(400, f"{key} must be a non-empty list of filters")
        for item in value:
            check_filter(item, object_filter=object_filter)
    elif key == "not":
        check_filter(value, object_filter=object_filter)
    elif key == "segment":
        if not isinstance(value, dict) or isinstance(value.get("id"), bool) or not isinstance(value.get("id"), int):
            raise ApiError(400, "segment filters need an integer id")
    else:
        if not isinstance(value, dict) or not isinstance(value.get("field"), str):
            raise ApiError(400, f"{key} filters need a field")
        if value.get("operator") not in ("eq", "exists"):
            raise ApiError(400, f"{key}.operator must be eq or exists")
        if value["operator"] == "eq" and "value" not in value:
            raise ApiError(400, f"{key} with operator eq needs a value")


def person_matches(ws: Workspace, attrs: dict[str, str], flt: dict[str, Any], person: Person | None) -> bool:
    """Whether a checked filter matches a person; attribute values compare as strings."""
    (key, value), = flt.items()
    if key == "and":
        return all(person_matches(ws, attrs, f, person) for f in value)
    if key == "or":
        return any(person_matches(ws, attrs, f, person) for f in value)
    if key == "not":
        return not person_matches(ws, attrs, value, person)
    if key == "segment":
        return person is not None and person in ws.segment_members(value["id"])
    field = value["field"]
    if value["operator"] == "exists":
        return field in attrs
    return attrs.get(field) == attribute_string(value["value"])


def filter_people(ws: Workspace, flt: Any) -> list[Person]:
    """The people a filter selects (everyone for None), after checking it."""
    if flt is None:
        return list(ws.people.values())
    check_filter(flt)
    return [p for p in ws.people.values() if person_matches(ws, p.attributes, flt, p)]


def people_from_body(req: Request, key: str) -> tuple[dict[str, Any], list[Person]]:
    """The JSON body and the people its filter under `key` selects; 400 when the filter is absent."""
    body = req.json_object()
    if key not in body:
        raise ApiError(400, f"{key} is required")
    return body, filter_people(req.ws, body[key])


def object_matches(obj: dict[str, Any], flt: dict[str, Any]) -> bool:
    """Whether a checked object filter matches an object (`object_id` counts as an attribute)."""
    (key, value), = flt.items()
    if key == "and":
        return all(object_matches(obj, f) for f in value)
    if key == "or":
        return any(object_matches(obj, f) for f in value)
    if key == "not":
        return not object_matches(obj, value)
    attrs = {**obj["attributes"], "object_id": obj["object_id"]}
    if value["operator"] == "exists":
        return value["field"] in attrs
    return attrs.get(value["field"]) == attribute_string(value["value"])
