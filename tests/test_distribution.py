"""What a production install holds: billsync's own packages, and none of the vendors' sandboxes."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parent.parent
# billsync-sandboxes' packages that fake no vendor: the sandbox kit, the demo firm, the commands.
VENDOR_FREE = {"kit", "demo", "cli"}


def packages_of(pyproject: Path) -> list[str]:
    """The packages setuptools puts in a distribution's wheel, as its [tool.setuptools.packages.find] says."""
    settings = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"]["find"]
    return find_packages(where=str(pyproject.parent), include=settings["include"], exclude=settings.get("exclude", ()))


def test_the_production_distribution_has_no_sandbox() -> None:
    packages = packages_of(ROOT / "pyproject.toml")
    assert {"core", "core.cli", "connectors.clio", "config"} <= set(packages)  # the finder sees the tree
    assert [p for p in packages if p.split(".")[0] in ("billsync_sandboxes", "sandboxes")] == []


def test_the_production_distribution_has_no_sandbox_kit_and_no_demo() -> None:
    """The sandbox kit, the demo firm and the commands that serve them ship with billsync-sandboxes only."""
    packages = packages_of(ROOT / "pyproject.toml")
    modules = {f"{p}.{m.stem}" for p in packages for m in (ROOT / p.replace(".", "/")).glob("*.py")}
    assert {"core.cli.vendors", "core.plugins"} <= modules  # the listing sees the modules
    assert [m for m in packages + sorted(modules) if "sandbox" in m.split(".")[-1] or "demo" in m] == []
    sandbox_packages = set(packages_of(ROOT / "sandboxes" / "pyproject.toml"))
    assert {"billsync_sandboxes.kit", "billsync_sandboxes.demo", "billsync_sandboxes.cli"} <= sandbox_packages


def test_the_sandboxes_distribution_holds_every_vendors_sandbox() -> None:
    packages = packages_of(ROOT / "sandboxes" / "pyproject.toml")
    vendors = {p.split(".")[1] for p in packages if p.count(".") >= 1} - VENDOR_FREE
    connectors = {p.name for p in (ROOT / "connectors").iterdir() if (p / "connector.py").is_file()}
    assert vendors == connectors  # one sandbox folder per connector folder, none without its connector
    assert all(p.split(".")[0] == "billsync_sandboxes" for p in packages)


def test_only_connectors_register_in_the_production_metadata() -> None:
    """The sandboxes' entry-point groups live in sandboxes/pyproject.toml, not in billsync's own."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert set(project["entry-points"]) == {"billsync.connectors"}
    sandboxes_project = tomllib.loads((ROOT / "sandboxes" / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    groups = sandboxes_project["entry-points"]
    assert set(groups) == {"billsync.sandboxes", "billsync.sandbox_settings", "billsync.sandbox_firm_settings",
                           "billsync.demo_seeds", "billsync.commands"}
    assert set(groups["billsync.commands"]) == {"demo", "sandbox"}
    targets = [target for group in groups.values() for target in group.values()]
    assert all(target.startswith("billsync_sandboxes.") for target in targets)


def test_the_image_copies_no_sandbox() -> None:
    copied = re.findall(r"^COPY\s+(?!--from)(.+?)\s+\S+$", (ROOT / "Dockerfile").read_text(encoding="utf-8"), re.M)
    sources = {source for line in copied for source in line.split()}
    assert "core" in sources  # the pattern reads the Dockerfile's COPY lines
    assert not any(source.startswith("sandboxes") or source == "." for source in sources)
