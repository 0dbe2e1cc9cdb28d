"""Connectors, the vendors' sandboxes and extra commands, found through entry points.

Core never imports a connector or a sandbox: each one declares itself under the groups below, an
explicit list that the package metadata carries. Connectors come with billsync (pyproject.toml);
the sandboxes are a separate distribution, billsync-sandboxes (sandboxes/pyproject.toml), that a
production install leaves out. It also brings the commands that need them (`billsync demo`,
`billsync sandbox`), registered under COMMANDS.
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
# Commands another distribution adds to the `billsync` CLI: each a typer command function or a typer app.
COMMANDS = "billsync.commands"
SANDBOX_GROUPS = frozenset({SANDBOXES, SANDBOX_SETTINGS, SANDBOX_FIRM_SETTINGS, DEMO_SEEDS})
SANDBOXES_MISSING = (
    "the vendors' sandboxes (billsync-sandboxes) are not installed: "
    "from a billsync checkout run `pip install -e ./sandboxes` (`make demo` installs them)"
)


def require_sandboxes() -> None:
    """Refuse, in one line that says how to install them, when no vendor sandbox is installed."""
    if not names(SANDBOXES):
        raise ConfigError(SANDBOXES_MISSING)


def load(group: str, name: str) -> Any:
    """The object a connector registered under `group` as `name`, or a clear error."""
    found = {ep.name: ep for ep in entry_points(group=group)}
    if not found and group in SANDBOX_GROUPS:
        raise ConfigError(SANDBOXES_MISSING)
    if name not in found:
        known = ", ".join(sorted(found)) or "none"
        raise ConfigError(f"nothing named {name!r} is installed in {group} (installed: {known})")
    return found[name].load()


def names(group: str) -> list[str]:
    """Every name registered in a group."""
    return sorted(ep.name for ep in entry_points(group=group))


def load_all(group: str) -> dict[str, Any]:
    """Every object registered in a group, by name (none when nothing that registers there is installed)."""
    return {ep.name: ep.load() for ep in sorted(entry_points(group=group), key=lambda ep: ep.name)}
