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
class BrokenPlugin:
    """A plugin (or the connector it registered) that cannot load; reported, never hiding the others."""

    name: str
    provider: str
    problem: str

    def __str__(self) -> str:
        return f"{self.name} (from {self.provider}): {self.problem}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "provider": self.provider, "problem": self.problem}


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
    broken: list[BrokenPlugin] | None = None,
) -> pluggy.PluginManager:
    """A fresh manager with the essential plugin, the given plugin objects and the entry points.

    An entry point that fails to import, or implements a hook relaykit does not know, is left out
    and appended to `broken` (name, distribution, problem); plugins given in code still raise.
    """
    broken = [] if broken is None else broken
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
        except Exception:  # one broken plugin must not hide the others: load the rest one by one
            _load_one_by_one(pm, broken)
    _drop_invalid_entry_points(pm, broken)
    if os.environ.get("RELAYKIT_TRACE_PLUGINS") == "1":
        pm.trace.root.setwriter(lambda msg: log.debug("%s", msg.rstrip()))
        pm.enable_tracing()
    return pm


def _load_one_by_one(pm: pluggy.PluginManager, broken: list[BrokenPlugin]) -> None:
    for dist in metadata.distributions():
        for ep in dist.entry_points:
            if ep.group != ENTRY_POINT_GROUP or pm.get_plugin(ep.name) or pm.is_blocked(ep.name):
                continue
            try:
                pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=ep.name)
            except Exception as exc:  # ImportError, SyntaxError, whatever the plugin's module raises
                pm.set_blocked(ep.name)
                provider = f"{dist.metadata['Name']} {dist.version}"
                broken.append(BrokenPlugin(ep.name, provider, f"cannot import {ep.value}: {type(exc).__name__}"
                                                              f": {exc}"))


def _drop_invalid_entry_points(pm: pluggy.PluginManager, broken: list[BrokenPlugin]) -> None:
    """Unregister entry-point plugins that implement unknown hooks; plugins given in code raise."""
    from_dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    while True:
        try:
            pm.check_pending()
            return
        except pluggy.PluginValidationError as exc:
            dist = from_dists.get(id(exc.plugin))
            if dist is None:
                raise PluginError(f"plugin {exc.plugin!r} implements an unknown hook: {exc}") from None
            name = pm.get_name(exc.plugin) or repr(exc.plugin)
            pm.unregister(exc.plugin)
            pm.set_blocked(name)
            broken.append(BrokenPlugin(name, f"{dist.metadata['Name']} {dist.version}",
                                       f"implements an unknown hook: {exc}"))


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
