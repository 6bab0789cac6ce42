"""DESIGN.md rule 2: backends import neither the DB layer nor the API layer."""

from __future__ import annotations

import ast
import pathlib

import hai_server.backends.kubernetes as pkg

FORBIDDEN = ("hai_server.db", "hai_server.api", "hai_server.services", "hai_server.reconciler")


def test_kubernetes_backend_imports_no_db_or_api():
    root = pathlib.Path(pkg.__file__).parent
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(FORBIDDEN), f"{path.name} imports {name}"


def test_modules_stay_small():
    root = pathlib.Path(pkg.__file__).parent
    for path in root.glob("*.py"):
        assert len(path.read_text().splitlines()) < 420, path.name
