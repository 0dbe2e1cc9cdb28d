"""Connectors and their sandboxes, found through package entry points.

Core never imports a connector: each one declares itself in pyproject.toml under the groups
below, an explicit list that the package metadata carries.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from core.errors import ConfigError

CONNECTORS = "billsync.connectors"
SANDBOXES = "billsync.sandboxes"
SANDBOX_SETTINGS = "billsync.sandbox_settings"
SANDBOX_FIRM_SETTINGS = "billsync.sandbox_firm_settings"
DEMO_SEEDS = "billsync.demo_seeds"


def load(group: str, name: str) -> Any:
    """The object a connector registered under `group` as `name`, or a clear error."""
    found = {ep.name: ep for ep in entry_points(group=group)}
    if name not in found:
        known = ", ".join(sorted(found)) or "none"
        raise ConfigError(f"nothing named {name!r} is installed in {group} (installed: {known})")
    return found[name].load()


def names(group: str) -> list[str]:
    """Every name registered in a group."""
    return sorted(ep.name for ep in entry_points(group=group))
