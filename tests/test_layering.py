"""The architecture's import rules, enforced: core knows no vendor; connectors know no other vendor.

The vendors' sandboxes (sandboxes/billsync_sandboxes, a distribution of its own) fake a vendor
from its documentation: core and connectors never import them, and they never borrow a connector's code.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SANDBOXES_ROOT = ROOT / "sandboxes"  # the folder that holds the import package billsync_sandboxes
CONNECTORS = sorted(p.name for p in (ROOT / "connectors").iterdir() if p.is_dir() and not p.name.startswith("_"))


def imported_modules(path: Path, root: Path = ROOT) -> set[str]:
    """Every module a Python file imports, as dotted names (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                found.add(node.module)
    return found


def python_files(folder: str, root: Path = ROOT) -> list[Path]:
    return sorted((root / folder).rglob("*.py"))


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_imports(path: Path, root: Path) -> set[str]:
    """The modules a file imports when it runs (anywhere but under `if TYPE_CHECKING:`), `from p import m` as p.m."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path, root) if path.name == "__init__.py" else module_name(path, root).rpartition(".")[0]
    skipped = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for statement in node.body
        for inner in ast.walk(statement)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                head = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*head, node.module] if node.module else head)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def import_cycles(root: Path, top: str) -> list[list[str]]:
    """Cycles among the modules under root/top, counting the package __init__ each import runs first.

    Importing a.b.c runs a/__init__ and a/b/__init__ unless the importer already sits inside them.
    """
    modules = {module_name(path, root): path for path in python_files(top, root)}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for imported in runtime_imports(path, root):
            parts = imported.split(".")
            for end in range(1, len(parts) + 1):
                target = ".".join(parts[:end])
                if target in modules and target != name and not name.startswith(target + "."):
                    targets.add(target)
        edges[name] = targets
    cycles: list[list[str]] = []
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for target in sorted(edges[name]):
            if state.get(target) == "open":
                cycles.append([*trail[trail.index(target) :], target] if target in trail else [name, target])
            elif target not in state:
                visit(target, [*trail, target])
        state[name] = "done"

    for name in sorted(modules):
        if name not in state:
            visit(name, [name])
    return cycles


def test_every_connector_folder_is_registered_under_its_folder_name() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    registered = project["entry-points"]["billsync.connectors"]
    assert len(CONNECTORS) >= 5
    assert set(registered) == set(CONNECTORS)
    assert all(registered[name].startswith(f"connectors.{name}.connector:") for name in CONNECTORS)


# The fixed file names (README "Adding a vendor"): one name per role, in every vendor's folders.
CONNECTOR_REQUIRED_FILES = frozenset({"connector.py", "client.py", "mapping.py", "README.md"})
CONNECTOR_FILES = CONNECTOR_REQUIRED_FILES | {
    "__init__.py",
    "streams.py",
    "writer.py",
    "webhooks.py",
    "bills.py",
    "gateway.py",
    "auth.py",
}
# A sandbox's role is a module (name.py) or, once large, a package of that name (name/).
SANDBOX_REQUIRED_ROLES = frozenset({"state", "api", "admin", "auth", "errors", "factory", "seed"})
SANDBOX_ROLES = SANDBOX_REQUIRED_ROLES | {"webhooks"}
NOT_A_VENDOR_SANDBOX = frozenset({"kit", "demo", "cli"})  # billsync_sandboxes' vendor-free packages


def folder_entries(folder: Path) -> set[str]:
    """What a folder holds, less Python's caches and hidden files."""
    return {p.name for p in folder.iterdir() if p.name != "__pycache__" and not p.name.startswith(".")}


def sandbox_role(entry: Path) -> str | None:
    """The role a sandbox's module (name.py) or package (name/) plays; None for anything else."""
    if entry.is_dir() and (entry / "__init__.py").is_file():
        return entry.name
    if entry.is_file() and entry.suffix == ".py" and entry.name != "__init__.py":
        return entry.stem
    return None


def test_every_connector_folder_holds_the_fixed_files_only() -> None:
    for vendor in CONNECTORS:
        held = folder_entries(ROOT / "connectors" / vendor)
        assert held >= CONNECTOR_REQUIRED_FILES, f"connectors/{vendor} lacks {sorted(CONNECTOR_REQUIRED_FILES - held)}"
        assert held <= CONNECTOR_FILES, f"connectors/{vendor}: {sorted(held - CONNECTOR_FILES)} is no fixed name"


def test_every_sandbox_folder_holds_the_fixed_roles_only() -> None:
    package = SANDBOXES_ROOT / "billsync_sandboxes"
    vendors = [p for p in package.iterdir() if p.is_dir() and not p.name.startswith("_")]
    vendors = [p for p in vendors if p.name not in NOT_A_VENDOR_SANDBOX]
    assert len(vendors) >= 5
    for folder in vendors:
        where = f"sandboxes/billsync_sandboxes/{folder.name}"
        entries = {name: folder / name for name in folder_entries(folder)}
        roles = {sandbox_role(path) for path in entries.values()}
        assert "README.md" in entries, f"{where} lacks README.md"
        assert roles >= SANDBOX_REQUIRED_ROLES, f"{where} lacks {sorted(SANDBOX_REQUIRED_ROLES - roles)}"
        others = sorted(
            name
            for name, path in entries.items()
            if name not in {"README.md", "__init__.py"} and sandbox_role(path) not in SANDBOX_ROLES
        )
        assert not others, f"{where}: {others} is no fixed name"


def test_core_never_imports_a_connector() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in python_files("core")
        for module in imported_modules(path)
        if module == "connectors" or module.startswith("connectors.")
    ]
    assert offenders == []


def test_a_connector_never_imports_another_connector() -> None:
    offenders = []
    for name in CONNECTORS:
        for path in python_files(f"connectors/{name}"):
            for module in imported_modules(path):
                parts = module.split(".")
                if parts[0] == "connectors" and len(parts) > 1 and parts[1] != name:
                    offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == []


def test_core_and_connectors_never_import_a_sandbox() -> None:
    """Core finds the sandboxes through entry points only; a connector talks to a vendor, real or not, over HTTP."""
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for folder in ("core", "connectors")
        for path in python_files(folder)
        for module in imported_modules(path)
        if module.split(".")[0] in ("billsync_sandboxes", "sandboxes")
    ]
    assert offenders == []


def test_a_sandbox_never_imports_a_connector() -> None:
    """A sandbox fakes its vendor from the vendor's documentation; borrowing the connector's code would hide
    exactly the misreadings of that documentation the sandbox is there to catch."""
    files = python_files("billsync_sandboxes", SANDBOXES_ROOT)
    assert len(files) > 30  # the checker reads the sandboxes' tree
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in files
        for module in imported_modules(path, SANDBOXES_ROOT)
        if module == "connectors" or module.startswith("connectors.")
    ]
    assert offenders == []


# What the vendor-free parts of billsync_sandboxes may import from each other: the sandbox kit nothing, the
# demo firm the kit, the commands both. A vendor's sandbox builds on the kit and seeds from the demo firm; the
# vendor-free parts reach a vendor's sandbox through entry points only.
VENDOR_FREE_IMPORTS = {"kit": set(), "demo": {"kit"}, "cli": {"kit", "demo"}}


def test_a_sandbox_never_imports_another_vendors_sandbox() -> None:
    offenders = []
    for path in python_files("billsync_sandboxes", SANDBOXES_ROOT):
        owner = path.relative_to(SANDBOXES_ROOT / "billsync_sandboxes").parts[0]
        may_import = VENDOR_FREE_IMPORTS.get(owner, {"kit", "demo"})
        for module in imported_modules(path, SANDBOXES_ROOT):
            parts = module.split(".")
            if parts[0] == "billsync_sandboxes" and len(parts) > 1 and parts[1] not in {owner, *may_import}:
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == []


def test_the_sandboxes_have_no_import_cycle() -> None:
    """Each sandbox's modules import one way (state -> api, admin, auth, webhooks -> errors), so any of them
    imports first without a deferred import inside a function."""
    assert import_cycles(SANDBOXES_ROOT, "billsync_sandboxes") == []


def test_the_cycle_finder_sees_a_cycle(tmp_path: Path) -> None:
    """Guard against a test that cannot fail: a deferred import and a package's __init__ both count."""
    vendor = tmp_path / "sandboxes" / "vendor"
    (vendor / "api").mkdir(parents=True)
    for name in ("sandboxes/__init__.py", "sandboxes/vendor/__init__.py", "sandboxes/vendor/errors.py"):
        (tmp_path / name).write_text("")
    (vendor / "state.py").write_text("from sandboxes.vendor.api import build\n")
    (vendor / "api" / "__init__.py").write_text("from sandboxes.vendor.api.rules import RULE\n")
    (vendor / "api" / "rules.py").write_text("def late():\n    from sandboxes.vendor import state\n")
    (vendor / "admin.py").write_text(
        "from typing import TYPE_CHECKING\nfrom sandboxes.vendor import errors\n"
        "if TYPE_CHECKING:\n    from sandboxes.vendor.state import S\n"
    )
    cycles = import_cycles(tmp_path, "sandboxes")
    assert len(cycles) == 1
    assert set(cycles[0]) == {"sandboxes.vendor.state", "sandboxes.vendor.api", "sandboxes.vendor.api.rules"}


def test_the_checker_sees_violations(tmp_path: Path) -> None:
    """Guard against a test that cannot fail: the parser must find both import forms."""
    sample = ROOT / "core" / "_layering_probe.py"
    sample.write_text("import connectors.clio\nfrom connectors.lawpay import client\nfrom . import models\n")
    try:
        assert imported_modules(sample) >= {"connectors.clio", "connectors.lawpay", "core"}
    finally:
        sample.unlink()
