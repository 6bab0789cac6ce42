"""DESIGN.md section 2 dependency rules, checked on the source (static imports)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imports(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def offenders(package: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    bad = []
    for path, names in imports(package).items():
        for name in names:
            if name.startswith(forbidden) and not name.startswith(allowed):
                bad.append(f"{path} imports {name}")
    return bad


def test_services_and_api_never_call_a_backend() -> None:
    bad = offenders("hai_server/services", ("hai_server.backends", "hai_server.reconciler"))
    bad += offenders("hai_server/api", ("hai_server.backends", "hai_server.reconciler"))
    assert bad == []


def test_backends_import_neither_db_nor_api() -> None:
    assert (
        offenders(
            "hai_server/backends",
            ("hai_server.db", "hai_server.api", "hai_server.services", "sqlalchemy"),
        )
        == []
    )


def test_cli_reaches_the_server_only_over_http() -> None:
    # the offline simulator replays traces through the pure policy, no server involved
    allowed = ("hai_server.scheduler", "hai_server.simulate")
    assert offenders("hai_cli", ("hai_server",), allowed) == []


def test_hai_up_does_not_import_the_server() -> None:
    assert offenders("hai_up", ("hai_server",)) == []
