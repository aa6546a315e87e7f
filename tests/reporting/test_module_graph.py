"""Imports point one way only (docs/design.md, "Module map").

Between packages: `infra` (errors, parsers, auth, logging, replicas, the database) imports no app;
`orders` imports only `infra`; `reporting` imports `orders` and `infra`; `config`, the
composition root, may import them all; `benchmarks` anything but the tests. Inside `reporting`:
each module imports from the layers below it, never above, and never inside a function to dodge
a cycle."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Bottom first. A module may import any module of a lower layer and none of its own or a higher
# one; the top layer (HTTP, admin, CLI) may also use its own package's modules.
LAYERS = [
    ["reporting.state", "reporting.metrics", "reporting.freshness"],
    ["reporting.maintenance"],  # the kit a report's maintenance is written with
    ["reporting.report"],  # what a report declaration is
    ["reporting.filtering"],
    ["reporting.reports"],  # one module per report: they never import each other
    ["reporting.catalog"],  # every report, in the lock order
    ["reporting.models", "reporting.ledger", "reporting.tables"],
    ["reporting.refresh", "reporting.verify"],
    ["reporting.rebuild"],  # online rebuilds of tables and views
    ["reporting.serving"],  # one object per strategy: nothing above compares strategies
    ["reporting.queries", "reporting.projector", "reporting.worker", "reporting.migration"],
    ["reporting.middleware"],
    ["reporting.api", "reporting.admin", "reporting.management", "reporting.dashboard"],
]


def layer_of(module: str) -> int:
    for level, names in enumerate(LAYERS):
        if any(module == name or module.startswith(name + ".") for name in names):
            return level
    raise AssertionError(f"{module} is in no layer: add it to LAYERS and docs/design.md")


def reporting_modules():
    for path in sorted((ROOT / "reporting").rglob("*.py")):
        relative = path.relative_to(ROOT).with_suffix("")
        if "migrations" in relative.parts or relative.name in ("__init__", "apps"):
            continue
        yield ".".join(relative.parts), path


def imports_of(path: Path, package: str = "reporting"):
    """(module imported, at module level?) for every import of `package` in the file."""
    tree = ast.parse(path.read_text())
    top_level = {id(node) for node in tree.body}

    def ours(name: str) -> bool:
        return name == package or name.startswith(package + ".")

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and ours(node.module):
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            yield from ((name, id(node) in top_level) for name in names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if ours(alias.name):
                    yield alias.name, id(node) in top_level


def module_named(name: str) -> str:
    """`reporting.catalog.REPORTS` -> `reporting.catalog`; `reporting.api.views` stays."""
    parts = name.split(".")
    while parts and not (
        (ROOT / Path(*parts)).with_suffix(".py").exists() or (ROOT / Path(*parts)).is_dir()
    ):
        parts.pop()
    return ".".join(parts)


@pytest.mark.parametrize("module, path", list(reporting_modules()), ids=lambda v: str(v))
def test_imports_only_from_lower_layers_at_module_level(module, path):
    level = layer_of(module)
    for name, at_top in imports_of(path):
        target = module_named(name)
        assert at_top, f"{module} imports {target} inside a function"
        target_level = layer_of(target)
        same_top_package = level == len(LAYERS) - 1 and target.split(".")[1] == module.split(".")[1]
        assert target_level < level or same_top_package, (
            f"{module} (layer {level}) imports {target} (layer {target_level})"
        )


PACKAGES = ("infra", "orders", "reporting", "config", "benchmarks", "tests")
# Which packages each may import (besides itself): the arrows of the package graph.
MAY_IMPORT = {
    "infra": set(),
    "orders": {"infra"},
    "reporting": {"infra", "orders"},
    "config": {"infra", "orders", "reporting"},
    "benchmarks": {"config", "infra", "orders", "reporting"},
    "tests": {"config", "infra", "orders", "reporting", "benchmarks"},
}


def package_files(package: str):
    yield from sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES[:-1])
def test_packages_import_one_way(package):
    for path in package_files(package):
        for other in set(PACKAGES) - MAY_IMPORT[package] - {package}:
            found = [name for name, _ in imports_of(path, other)]
            assert not found, f"{path.relative_to(ROOT)} ({package}) imports {other}: {found}"


def test_the_package_graph_has_no_loop():
    """The allowed arrows themselves form no cycle (so no set of imports can)."""
    state: dict[str, str] = {}

    def visit(package: str, trail: list[str]):
        assert state.get(package) != "open", f"package loop: {' -> '.join([*trail, package])}"
        if state.get(package) == "done":
            return
        state[package] = "open"
        for target in MAY_IMPORT[package]:
            visit(target, [*trail, package])
        state[package] = "done"

    for package in PACKAGES:
        visit(package, [])
