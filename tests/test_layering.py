"""The rooms of src/busbar import one another only downwards (docs/ARCHITECTURE.md).

The import graph is read from the source (every ``import`` statement, also those
inside functions), folded into rooms (``busbar.api.rules`` belongs to ``api``), and
checked two ways: no cycle between rooms, and no room importing one it may not.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "busbar"

# What each room may import (besides itself).  A room not listed may import anything
# below the API edge; new rooms must be added here, with their place in the layers.
PURE = {"model", "patterns", "transform", "schedules", "policies"}
ALLOWED: dict[str, set[str]] = {
    "model": set(),
    "patterns": set(),
    "transform": {"model"},
    "schedules": set(),
    "policies": {"model"},
    "ratelimit": set(),
    "logs": set(),
    "tasks": set(),
    "config": {"model"},
    "store": {"model", "config", "tasks"},
    "resources": {"model", "store"},
    "ruleindex": {"model", "patterns", "transform", "resources", "store"},
    # Metrics, failure logs and event bus logs: told by the rooms above what happened.
    "observe": {"model", "resources", "store", "config", "ratelimit", "logs", "tasks"},
    "delivery": {"model", "transform", "resources", "store", "config", "ratelimit", "logs", "observe", "tasks"},
    "router": {
        "model",
        "patterns",
        "transform",
        "resources",
        "store",
        "ruleindex",
        "delivery",
        "config",
        "observe",
        "tasks",
    },
    "retention": {"store", "resources", "tasks"},
    "scheduler": {"model", "schedules", "resources", "store", "tasks"},
    "replayer": {"ratelimit", "resources", "store", "tasks"},
    "api": PURE | {"resources", "store", "config", "ratelimit", "ruleindex", "logs", "observe"},
    "endpoints": {"model", "resources", "store", "config", "delivery", "logs", "tasks"},
    # The web console: beside the server (which mounts it), never imported by the rooms below.
    "console": PURE | {"resources", "store", "config", "ratelimit", "ruleindex", "logs", "observe", "api"},
    "client": {"model"},
}


def _room(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "busbar" or len(parts) < 2:
        return None
    return parts[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    package = ".".join(path.relative_to(SRC.parent).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [base]).strip(".")
            found.add(base)
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        room = _room(".".join(path.relative_to(SRC.parent).with_suffix("").parts))
        if room is None or room.startswith("__"):
            continue
        targets = {_room(module) for module in _imports(path)}
        graph.setdefault(room, set()).update(t for t in targets if t is not None and t != room)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle reachable in *graph*, as the rooms along it (first == last)."""
    cycles: list[list[str]] = []

    def visit(room: str, trail: list[str]) -> None:
        for nxt in sorted(graph.get(room, ())):
            if nxt in trail:
                cycles.append([*trail[trail.index(nxt) :], nxt])
            elif len(trail) < len(graph):
                visit(nxt, [*trail, nxt])

    for room in sorted(graph):
        visit(room, [room])
    return cycles


def test_no_cycle_between_rooms():
    cycles = find_cycles(_graph())
    assert not cycles, f"import cycles between rooms: {cycles[:5]}"


def test_rooms_import_only_what_they_may():
    wrong = {
        room: sorted(targets - ALLOWED[room] - {"__init__"})
        for room, targets in _graph().items()
        if room in ALLOWED and targets - ALLOWED[room] - {"__init__"}
    }
    assert not wrong, f"rooms importing what they may not: {wrong}"


def test_the_cycle_finder_finds_one():
    assert find_cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}})[0] == ["a", "b", "a"]
