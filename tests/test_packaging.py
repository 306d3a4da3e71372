"""Packaging: what `pip install ticketbridge` brings is what the code imports, and the locks agree
with pyproject.toml. (The plain install itself is exercised by .ci/plain_install.sh.)"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
#: Declared but never imported by name, with the reason.
NOT_IMPORTED = {
    "aiosqlite": "SQLAlchemy's driver for sqlite+aiosqlite:// URLs",
}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(requirements: list[str]) -> dict[str, str]:
    """{canonical name: version} of `name[extras]==version` requirements."""
    found = {}
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?==([^;\s]+)", requirement.strip())
        assert match, f"{requirement!r} is not pinned exactly"
        found[canonical(match[1])] = match[3]
    return found


def locked(path: Path) -> dict[str, str]:
    return {
        canonical(match[1]): match[2]
        for match in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+)", path.read_text(), flags=re.MULTILINE)
    }


RUNTIME = pins(PYPROJECT["project"]["dependencies"])
DEV = pins(PYPROJECT["project"]["optional-dependencies"]["dev"])


def imported_modules() -> set[str]:
    modules: set[str] = set()
    for path in (ROOT / "src" / "ticketbridge").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m not in ("ticketbridge", "__future__")}


def test_every_third_party_import_is_installed_by_a_plain_install() -> None:
    """A plain install brings exactly the runtime lock's packages (both come from pyproject.toml);
    a package imported by src/ that only a dev extra brings fails users with ModuleNotFoundError."""
    providers = packages_distributions()
    runtime_tree = locked(ROOT / "requirements.lock")
    missing = {
        module: providers.get(module, ["(not installed)"])
        for module in imported_modules()
        if not {canonical(dist) for dist in providers.get(module, [])} & runtime_tree.keys()
    }
    assert not missing, f"imported by src/ but not brought by [project].dependencies: {missing}"


def test_every_runtime_dependency_is_imported() -> None:
    providers = packages_distributions()
    imported = {canonical(dist) for module in imported_modules() for dist in providers.get(module, [])}
    unused = set(RUNTIME) - imported - set(NOT_IMPORTED)
    assert not unused, f"pinned in [project].dependencies but never imported: {sorted(unused)}"


def test_the_locks_hold_every_direct_pin_at_its_version() -> None:
    runtime_lock, dev_lock = locked(ROOT / "requirements.lock"), locked(ROOT / "requirements-dev.lock")
    stale = {
        name: (version, runtime_lock.get(name))
        for name, version in RUNTIME.items()
        if runtime_lock.get(name) != version
    }
    stale |= {
        name: (version, dev_lock.get(name))
        for name, version in (RUNTIME | DEV).items()
        if dev_lock.get(name) != version
    }
    assert not stale, f"pyproject pin vs lock: {stale}; run `make lock`"
    assert "pytest" not in runtime_lock and "hatchling" not in runtime_lock, "the runtime lock holds dev tools"
    shared = runtime_lock.keys() & dev_lock.keys()
    assert {n: runtime_lock[n] for n in shared} == {n: dev_lock[n] for n in shared}, "the two locks disagree"
    assert set(runtime_lock) <= set(dev_lock)


def test_the_build_backend_is_pinned_once() -> None:
    assert pins(PYPROJECT["build-system"]["requires"]) == {"hatchling": DEV["hatchling"]}
