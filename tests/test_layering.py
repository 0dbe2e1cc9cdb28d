"""The architecture's import rules, enforced: core knows no vendor; connectors know no other vendor."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONNECTORS = sorted(p.name for p in (ROOT / "connectors").iterdir() if p.is_dir() and not p.name.startswith("_"))


def imported_modules(path: Path) -> set[str]:
    """Every module a Python file imports, as dotted names (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
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


def python_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def test_the_five_connector_folders_exist() -> None:
    assert {"clio", "practicepanther", "netdocuments", "lawpay", "microsoft365"} <= set(CONNECTORS)


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


def test_the_checker_sees_violations(tmp_path: Path) -> None:
    """Guard against a test that cannot fail: the parser must find both import forms."""
    sample = ROOT / "core" / "_layering_probe.py"
    sample.write_text("import connectors.clio\nfrom connectors.lawpay import client\nfrom . import models\n")
    try:
        assert imported_modules(sample) >= {"connectors.clio", "connectors.lawpay", "core"}
    finally:
        sample.unlink()
