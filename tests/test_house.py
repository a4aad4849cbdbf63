"""The house the code lives in (issue 13), read from its own source: layers that import only
downward, a pure layer with no I/O libraries, and modules and functions small enough to read."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Each package and the packages it may import: the CLI on top, then the flow, then the tasks
# and the store side by side, the pure layer at the bottom; the simulators stand apart and
# only the CLI's `--simulate` switch reaches them.
MAY_IMPORT = {
    "territory": {"flows", "tasks", "storage", "domain", "simulators"},
    "flows": {"tasks", "storage", "domain"},
    "tasks": {"domain"},
    "storage": {"domain"},
    "domain": set(),
    "simulators": {"domain"},
}
NO_IO = {"prefect", "duckdb", "httpx", "requests", "openai", "tavily"}  # not in `domain`
MODULE_LINES, FUNCTION_LINES, FLOW_MODULE_LINES = 400, 60, 150


def modules() -> list[tuple[str, Path, ast.Module]]:
    return [
        (package, path, ast.parse(path.read_text(encoding="utf-8")))
        for package in MAY_IMPORT
        for path in sorted((ROOT / package).rglob("*.py"))
    ]


def imported(tree: ast.Module) -> set[str]:
    """Top-level names of every absolute import, function-level ones included."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_every_package_imports_only_the_layers_below_it():
    upward = defaultdict(list)
    for package, path, tree in modules():
        for name in imported(tree) & set(MAY_IMPORT):
            if name != package and name not in MAY_IMPORT[package]:
                upward[str(path.relative_to(ROOT))].append(name)
    assert dict(upward) == {}


def test_the_pure_layer_does_no_io():
    found = {
        str(path.relative_to(ROOT)): sorted(imported(tree) & NO_IO)
        for package, path, tree in modules()
        if package == "domain" and imported(tree) & NO_IO
    }
    assert found == {}


def test_modules_and_functions_are_small_enough_to_read():
    long_modules, long_functions = [], []
    for package, path, tree in modules():
        if package == "simulators":
            continue  # test fixtures of their own, not the product
        name = str(path.relative_to(ROOT))
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MODULE_LINES:
            long_modules.append((name, lines))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > FUNCTION_LINES:
                    long_functions.append((name, node.name, length))
    assert long_modules == [] and long_functions == []
    flow = ROOT / "flows" / "territory_research.py"
    assert len(flow.read_text(encoding="utf-8").splitlines()) < FLOW_MODULE_LINES
