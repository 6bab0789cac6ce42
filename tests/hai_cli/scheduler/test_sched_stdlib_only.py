"""DESIGN.md rule 1: hai_cli/scheduler imports only the standard library (and itself)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import hai_cli.scheduler

PACKAGE = Path(hai_cli.scheduler.__file__).parent
FORBIDDEN_STDLIB = {"random", "time", "datetime", "secrets", "uuid", "os", "socket"}
# pure text helpers that import nothing at all (checked below): the policy's messages use them
PURE_HELPERS = {"hai_cli.timefmt"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_scheduler_imports_only_stdlib_and_itself() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    assert files
    bad: list[str] = []
    for path in files:
        for name in _imports(path):
            top = name.split(".")[0]
            if name.startswith("hai_cli.scheduler") or top == "__future__":
                continue
            if name in PURE_HELPERS:
                continue
            if top not in sys.stdlib_module_names:
                bad.append(f"{path.name}: {name}")
            elif top in FORBIDDEN_STDLIB:
                bad.append(f"{path.name}: {name} (no clock, randomness or I/O in the policy)")
    assert not bad, bad


def test_the_pure_helpers_import_nothing() -> None:
    import importlib

    for name in PURE_HELPERS:
        path = Path(importlib.import_module(name).__file__ or "")
        assert _imports(path) <= {"__future__"}, (name, _imports(path))


def test_plan_restores_the_garbage_collector_state() -> None:
    import gc

    from hai_cli.scheduler import PolicyConfig, plan
    from tests.support.sched_builders import nodes, q, snap

    s = snap(nodes(1), queued=[q(1)])
    assert gc.isenabled()
    plan(s, PolicyConfig(), 0.0)
    assert gc.isenabled()
    gc.disable()
    try:
        plan(s, PolicyConfig(), 0.0)
        assert not gc.isenabled()
    finally:
        gc.enable()
