"""The read side's modules import one way only: each from the layers below it, never above, and
never inside a function to dodge a cycle (docs/design.md, "Module map")."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Bottom first. A module may import any module of a lower layer and none of its own or a higher
# one; the top layer (HTTP, admin, CLI) may also use its own package's modules.
LAYERS = [
    ["reporting.models", "reporting.strategy", "reporting.metrics"],
    ["reporting.maintenance"],
    ["reporting.catalog"],
    ["reporting.ledger", "reporting.queries"],
    ["reporting.refresh", "reporting.verify"],
    ["reporting.projector"],
    ["reporting.worker", "reporting.middleware"],
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


def imports_of(path: Path):
    """(module imported, at module level?) for every reporting import in the file."""
    tree = ast.parse(path.read_text())
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("reporting"):
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            yield from ((name, id(node) in top_level) for name in names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("reporting"):
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


def test_orders_never_imports_reporting():
    for path in (ROOT / "orders").rglob("*.py"):
        assert not list(imports_of(path)), f"{path} imports the read side"
