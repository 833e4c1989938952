"""The layout's promises, read from the code's own imports (at run time and under
TYPE_CHECKING alike): no import cycle anywhere, and imports point one way,
server → net → doors → registry ← store, cluster (STYLE.md, README "How it is built")."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("registry", "config", "net", "doors", "store", "cluster", "chatclient", "launcher")
TOP = ("server", "client", "rooms", "utils")


def modules() -> dict[str, Path]:
    found = {name: ROOT / f"{name}.py" for name in TOP}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imported(path: Path, known: set[str]) -> Iterator[tuple[str, list[str]]]:
    """Each project module `path` imports, with the names it takes from it."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    yield alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                if sub in known:  # `from registry import events`: the module itself
                    yield sub, []
                elif node.module in known:
                    yield node.module, [alias.name]


def graph() -> dict[str, dict[str, list[str]]]:
    found = modules()
    known = set(found)
    edges: dict[str, dict[str, list[str]]] = {}
    for name, path in found.items():
        targets: dict[str, list[str]] = {}
        for target, names in imported(path, known):
            if target != name:
                targets.setdefault(target, []).extend(names)
        edges[name] = targets
    return edges


def layer(module: str) -> str:
    return "registry" if module == "rooms" else module.split(".")[0]


def test_no_module_imports_itself_through_others() -> None:
    edges = graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in edges.get(node, {}):
            if target == node.rsplit(".", 1)[0] or node == target.rsplit(".", 1)[0]:
                continue  # a package and its own modules (`__init__` re-exports)
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []


ALLOWED = {  # a layer: the layers it may import (utils and itself always)
    "registry": set(),
    "config": set(),
    "store": {"registry"},
    "cluster": {"registry"},
    "doors": {"registry", "config"},
    "net": {"doors", "registry", "config", "store", "cluster"},
    "server": {"net", "config", "registry"},
    "chatclient": set(),
    "client": {"chatclient"},
    "launcher": {"server", "client"},  # the installed commands run the two programs
}


def test_imports_point_one_way() -> None:
    wrong = []
    for module, targets in graph().items():
        own = layer(module)
        for target in targets:
            other = layer(target)
            if other not in (own, "utils") and other not in ALLOWED.get(own, set()):
                wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_the_store_and_the_cluster_use_only_the_registrys_public_names() -> None:
    private = [
        f"{module} takes {name} from {target}"
        for module, targets in graph().items()
        if layer(module) in ("store", "cluster")
        for target, names in targets.items()
        for name in names
        if name.startswith("_") or (target == "rooms" and name != "RoomManager")
    ]
    assert private == []
