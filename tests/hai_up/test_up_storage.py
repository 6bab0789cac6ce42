"""The shared storage layout (pure) and its preparation: users' workspaces owned by their uid."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hai_up.errors import UpError
from hai_up.render.compose import host_dirs
from hai_up.storage import Folder, prepare_storage, storage_layout, user_workspace
from tests.support.up import config

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")


def _modes(layout: list[Folder], base: Path) -> list[tuple[str, int, int, int, str | None]]:
    return [
        (str(f.path.relative_to(base)), f.uid, f.gid, f.mode, f.user)
        for f in layout
        if f.path != base
    ] + [("<platform>", *next((f.uid, f.gid, f.mode) for f in layout if f.path == base), None)]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"HAI_BACKEND": "local"},
            [
                ("log", 0, 0, 0o755, None),
                ("home", 0, 0, 0o755, None),
                ("postgres", 0, 0, 0o755, None),
                ("redis", 0, 0, 0o755, None),
                ("environments", 0, 0, 0o755, None),  # the base environments' specs
                ("workspace", 0, 0, 0o755, None),
                ("workspace/alice", 1000, 1000, 0o750, "alice"),
                ("workspace/bob", 1001, 1001, 0o750, "bob"),
                ("envs", 0, 0, 0o755, None),  # haienv: the server's envs_root
                ("envs/platform", 990, 990, 0o755, "platform"),  # BASE_ENVS_UID
                ("envs/alice", 1000, 1000, 0o755, "alice"),
                ("envs/bob", 1001, 1001, 0o755, "bob"),
                ("<platform>", 0, 0, 0o711, None),
            ],
        ),
        (
            {
                "HAI_BACKEND": "local",
                "USER_INFO": "carol:20001:external:carol-token-0123456789",
                "EXTERNAL_DATABASE_URL": "postgresql://u:p@db:5432/hai",
                "EXTERNAL_REDIS_URL": "redis://:p@r:6379/0",
            },
            [
                ("log", 0, 0, 0o755, None),
                ("home", 0, 0, 0o755, None),
                ("environments", 0, 0, 0o755, None),
                ("workspace", 0, 0, 0o755, None),
                ("workspace/carol", 20001, 20001, 0o750, "carol"),
                ("envs", 0, 0, 0o755, None),
                ("envs/platform", 990, 990, 0o755, "platform"),
                ("envs/carol", 20001, 20001, 0o755, "carol"),
                ("<platform>", 0, 0, 0o711, None),
            ],
        ),
    ],
)
def test_layout_table(overrides: dict[str, str], expected: list[tuple[object, ...]]) -> None:
    cfg = config("/srv/hai", **overrides)
    layout = storage_layout(cfg, host_dirs(cfg))
    assert layout[0].path == cfg.hai_platform_path  # parents first
    assert _modes(layout, cfg.hai_platform_path) == expected


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder other uids can reach (pytest's tmp_path is under a 0700 folder of root)."""
    path = Path(tempfile.mkdtemp(prefix="hai-up-storage-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


SYSTEM_PYTHON = Path("/usr/bin/python3")  # other uids cannot reach the venv under /root


def _as_uid(uid: int, code: str) -> subprocess.CompletedProcess[str]:
    if not SYSTEM_PYTHON.is_file():
        pytest.skip(f"{SYSTEM_PYTHON} not found: nothing another uid can run")
    return subprocess.run(
        [str(SYSTEM_PYTHON), "-c", code], user=uid, group=uid, capture_output=True, text=True
    )


@ROOT_ONLY
def test_prepare_creates_user_workspaces_owned_by_their_uid(open_dir: Path) -> None:
    cfg = config(open_dir, HAI_BACKEND="local")
    layout = storage_layout(cfg, host_dirs(cfg))
    assert prepare_storage(layout) == []
    for folder in layout:
        st = folder.path.stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (folder.uid, folder.gid, folder.mode)
    # alice's uid writes in her folder; bob's folder and the platform's listing are closed to her
    alice, bob = user_workspace(cfg, "alice"), user_workspace(cfg, "bob")
    ok = _as_uid(1000, f"open({str(alice / 'mine.txt')!r}, 'w').write('ok')")
    assert ok.returncode == 0, ok.stderr
    assert (alice / "mine.txt").stat().st_uid == 1000
    for attempt in (
        f"open({str(bob / 'x')!r}, 'w')",
        f"import os; os.listdir({str(bob)!r})",
        f"import os; os.listdir({str(cfg.hai_platform_path)!r})",
    ):
        denied = _as_uid(1000, attempt)
        assert denied.returncode == 1 and "PermissionError" in denied.stderr, attempt


@ROOT_ONLY
def test_prepare_leaves_existing_folders_alone_and_warns(tmp_path: Path) -> None:
    cfg = config(tmp_path, HAI_BACKEND="local")
    layout = storage_layout(cfg, host_dirs(cfg))
    bob = user_workspace(cfg, "bob")
    bob.mkdir(parents=True)
    os.chmod(bob, 0o700)  # an operator's choice: kept, but bob (1001) does not own it
    warnings = prepare_storage(layout)
    assert warnings == [
        f"workspace of bob: {bob} is owned by uid 0, not 1001 (USER_INFO); its tasks may not "
        f"write there (chown 1001:1001 {bob})"
    ]
    assert bob.stat().st_uid == 0 and bob.stat().st_mode & 0o777 == 0o700
    assert prepare_storage(layout) == warnings  # idempotent


def test_prepare_reports_a_file_in_the_way(tmp_path: Path) -> None:
    cfg = config(tmp_path, HAI_BACKEND="local")
    layout = storage_layout(cfg, host_dirs(cfg))
    cfg.hai_platform_path.mkdir(parents=True)
    (cfg.hai_platform_path / "workspace").write_text("not a folder")
    with pytest.raises(UpError) as err:
        prepare_storage(layout)
    assert err.value.exit_code == 2
    assert (
        err.value.message == f"{cfg.hai_platform_path / 'workspace'} exists and is not a directory"
    )


def test_environments_of_the_old_envs_root_are_reported(tmp_path: Path) -> None:
    from hai_up.storage import old_envs_root

    cfg = config(tmp_path)
    assert old_envs_root(cfg) == []
    (cfg.hai_platform_path / "home/envs/alice/torch").mkdir(parents=True)
    (warning,) = old_envs_root(cfg)
    assert warning.startswith(f"{cfg.hai_platform_path}/home/envs holds environments of alice ")
    assert f"the servers now use {cfg.hai_platform_path}/envs" in warning
