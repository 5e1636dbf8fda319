"""The example automations shipped in `relaykit.examples`: list them, find one by name, copy one out.

They ship as package data, so an installed relaykit reaches them by name (`onboard_user`, or
`example:onboard_user` wherever a path is accepted) rather than by a path into a clone.
"""

from __future__ import annotations

import os
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from ..errors import UnknownExampleError
from ..names import suggest

PREFIX = "example:"

__all__ = ["PREFIX", "copy_example", "example_file", "example_name", "example_names", "example_summaries"]


def _folder() -> Traversable:
    return resources.files("relaykit.examples")


def example_names() -> list[str]:
    """The names of the shipped examples (their file names without `.yaml`)."""
    return sorted(f.name[:-5] for f in _folder().iterdir() if f.name.endswith(".yaml"))


def example_name(reference: str | os.PathLike[str]) -> str | None:
    """The example a reference means: `example:NAME`, or a bare NAME that is no file; else None."""
    text = os.fspath(reference)
    if text.startswith(PREFIX):
        return text[len(PREFIX):].removesuffix(".yaml")
    if "/" not in text and os.sep not in text and not Path(text).exists():
        name = text.removesuffix(".yaml")
        if name in example_names():
            return name
    return None


def example_file(name: str) -> Traversable:
    """The packaged file of one example; `UnknownExampleError` with close matches otherwise."""
    names = example_names()
    if name not in names:
        raise UnknownExampleError(name, suggest(name, names))
    return _folder() / f"{name}.yaml"


def example_summaries() -> list[dict[str, Any]]:
    """Name, title and description of every example."""
    out = []
    for name in example_names():
        data = yaml.safe_load(example_file(name).read_bytes()) or {}
        out.append({"name": name, "title": data.get("title", ""),
                    "description": " ".join(str(data.get("description", "")).split())})
    return out


def copy_example(name: str, destination: str | os.PathLike[str] | None = None) -> Path:
    """Write an example to `destination` (a file, or a folder; default `./NAME.yaml`); never overwrites."""
    source = example_file(name)
    target = Path(destination) if destination is not None else Path(f"{name}.yaml")
    if target.is_dir():
        target = target / f"{name}.yaml"
    if target.exists():
        raise FileExistsError(str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    text = source.read_text(encoding="utf-8")
    # the packaged files point their editor schema at the clone's layout; a copy cannot know where that is
    lines = text.splitlines(keepends=True)
    if lines and lines[0].startswith("# yaml-language-server:"):
        lines = lines[1:]
    target.write_text("".join(lines), encoding="utf-8")
    return target
