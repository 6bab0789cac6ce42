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


def test_make_backend_checks_the_log_dir_is_shared(tmp_path):
    from types import SimpleNamespace

    import pytest

    from hai_server.backends.kubernetes import KubernetesBackend, make_backend
    from hai_server.backends.kubernetes.config import KubernetesConfig, SharedStorage

    cfg = KubernetesConfig(shared=SharedStorage(server_path=str(tmp_path)))
    ok = make_backend(SimpleNamespace(kubernetes=cfg, resolved_log_dir=tmp_path / "logs"))
    assert isinstance(ok, KubernetesBackend) and ok.config is cfg
    with pytest.raises(ValueError, match=r"must be inside kubernetes\.shared\.server_path"):
        make_backend(SimpleNamespace(kubernetes=cfg, resolved_log_dir="/elsewhere/logs"))
