"""Build a `Runtime`'s own plugin manager: essential built-ins, entry points, allow and block lists.

Nothing is discovered at import time and there is no global manager: each `Runtime` builds one, so
tests and embedders get isolated plugin sets. Environment variables mirror constructor arguments:

- `RELAYKIT_DISABLE_PLUGINS=a,b` blocks entry-point plugins by name (the essential built-in
  plugin cannot be blocked, as in pytest).
- `RELAYKIT_LOAD_PLUGINS=a,b` loads only these entry points (an allow-list); empty loads none.
- `RELAYKIT_TRACE_PLUGINS=1` logs every hook call (pluggy's tracing) on the `relaykit.plugins` logger.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pluggy

from ..errors import PluginError
from . import builtins as _builtins
from . import hookspecs

ENTRY_POINT_GROUP = "relaykit.connectors"
ESSENTIAL = "relaykit.builtins"
log = logging.getLogger("relaykit.plugins")


@dataclass(frozen=True)
class PluginInfo:
    """One loaded plugin: its name, the distribution that ships it, and the hooks it implements."""

    name: str
    distribution: str
    version: str
    hooks: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "distribution": self.distribution, "version": self.version,
                "hooks": list(self.hooks)}


def _env_list(name: str) -> set[str] | None:
    raw = os.environ.get(name)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def build_plugin_manager(
    plugins: Iterable[Any] = (),
    *,
    load_entry_points: bool = True,
    disable: Iterable[str] | None = None,
    only: Iterable[str] | None = None,
) -> pluggy.PluginManager:
    """A fresh manager with the essential plugin, the given plugin objects and the entry points."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(_builtins, name=ESSENTIAL)
    for index, plugin in enumerate(plugins):
        name = getattr(plugin, "__name__", None) or f"{type(plugin).__name__}-{index}"
        pm.register(plugin, name=name)

    blocked = set(disable) if disable is not None else (_env_list("RELAYKIT_DISABLE_PLUGINS") or set())
    blocked.discard(ESSENTIAL)
    allowed = set(only) if only is not None else _env_list("RELAYKIT_LOAD_PLUGINS")
    if load_entry_points:
        if blocked or allowed is not None:  # scanning every distribution's entry points costs ~10 ms
            for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
                if ep.name in blocked or (allowed is not None and ep.name not in allowed):
                    pm.set_blocked(ep.name)
        try:
            pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        except Exception as exc:  # a broken third-party plugin must not be a traceback
            raise PluginError(f"cannot load a {ENTRY_POINT_GROUP} plugin: {type(exc).__name__}: {exc}") from None
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {exc.plugin!r} implements an unknown hook: {exc}") from None
    if os.environ.get("RELAYKIT_TRACE_PLUGINS") == "1":
        pm.trace.root.setwriter(lambda msg: log.debug("%s", msg.rstrip()))
        pm.enable_tracing()
    return pm


def describe_plugins(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """What is loaded and from which distribution (for `relaykit plugins`)."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    infos = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        hooks = tuple(sorted(h.name for h in pm.get_hookcallers(plugin) or []))
        dist = dists.get(id(plugin))
        if dist is not None:
            dist_name, version = dist.metadata["Name"], dist.version
        elif name == ESSENTIAL:
            dist_name, version = "relaykit", _own_version()
        else:
            dist_name, version = "(registered in code)", ""
        infos.append(PluginInfo(name=name, distribution=dist_name, version=version, hooks=hooks))
    return infos


def provider_name(pm: pluggy.PluginManager, plugin: Any, cache: dict[int, str] | None = None) -> str:
    """A human name for the plugin that registered something: `name (distribution version)`.

    Reading a distribution's metadata parses its METADATA file; pass a `cache` (plugin id -> name,
    valid for this manager's lifetime) to do that once per plugin rather than once per hook.
    """
    if cache is not None and id(plugin) in cache:
        return cache[id(plugin)]
    name = pm.get_name(plugin) or repr(plugin)
    for candidate, dist in pm.list_plugin_distinfo():
        if candidate is plugin:
            metadata = dist.metadata  # one parse for both fields
            name = f"{name} ({metadata['Name']} {metadata['Version']})"
            break
    if cache is not None:
        cache[id(plugin)] = name
    return name


def _own_version() -> str:
    try:
        return metadata.version("relaykit")
    except metadata.PackageNotFoundError:
        return "unknown"
