"""The package roots export their public interface, cheaply, and the library has no import cycles
(issue 14, point 5)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import vseq_resources
import vseq_resources.visits

LIBRARY = Path(vseq_resources.__file__).parent


@pytest.mark.parametrize("package", [vseq_resources, vseq_resources.visits], ids=lambda p: p.__name__)
def test_every_exported_name_resolves(package: object) -> None:
    names = package.__all__
    assert names and len(set(names)) == len(names)
    for name in names:
        value = getattr(package, name)
        assert getattr(value, "__name__", name) == name, name  # the object, not a namesake
        assert name in dir(package)


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        vseq_resources.no_such_name  # noqa: B018


def test_package_root_imports_nothing_heavy() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys, vseq_resources; print('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert not {"numpy", "pandas", "lsst.resources", "sqlalchemy"} & set(done.stdout.split())


def _import_graph() -> dict[str, set[str]]:
    """Which library modules each library module imports, at the top or inside a function."""
    modules: dict[str, tuple[Path, list[str]]] = {}
    for path in LIBRARY.rglob("*.py"):
        parts = ["vseq_resources", *path.relative_to(LIBRARY).with_suffix("").parts]
        package = parts[:-1]
        if parts[-1] == "__init__":
            parts = package = parts[:-1]
        modules[".".join(parts)] = (path, package)
    graph: dict[str, set[str]] = {}
    for name, (path, package) in modules.items():
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                target = ".".join([*base, *([node.module] if node.module else [])])
                submodules = [f"{target}.{alias.name}" for alias in node.names]
                found = [m for m in submodules if m in modules]
                imported.update(found or [target])
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
        graph[name] = {m for m in imported if m in modules and m != name}
    return graph


def test_no_import_cycles() -> None:
    """A module importing another that imports it back (even inside a function) means two
    concepts that are not separated: the store and the visits file were such a pair."""
    graph = _import_graph()
    assert graph["vseq_resources.store"]  # the graph really holds the imports
    cycles = []
    for start in graph:
        stack = [(start, [start])]
        seen = set()
        while stack:
            module, path = stack.pop()
            for nxt in graph[module]:
                if nxt == start:
                    cycles.append(" -> ".join([*path, start]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
    assert cycles == []
