"""The pure rules of workspace sync: names, paths, .hfignore, the diff; and the local scan's
hash cache (a second scan hashes only what changed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hai_cli.workspace import local, paths
from hai_cli.workspace.diff import diff
from hai_cli.workspace.ignore import DEFAULTS, Ignore, load, parse


@pytest.mark.parametrize("good", ["a", "proj-1", "A.b_c", "x" * 64])
def test_good_names(good: str) -> None:
    assert paths.workspace_name(good) == good


@pytest.mark.parametrize(
    "bad",
    [
        "",
        ".",
        "..",
        ".hidden",
        "-x",
        "a/b",
        "a b",
        "a\x00",
        "x" * 65,
        7,
        "a\n",
        "jupyter",
        "Jupyter",
    ],
)
def test_bad_names(bad: object) -> None:
    with pytest.raises(ValueError, match="bad workspace name"):
        paths.workspace_name(bad)


@pytest.mark.parametrize("good", ["a", "a/b/c.py", "dir with space/f", "ü/ñ.txt", ".env", "a..b"])
def test_good_paths(good: str) -> None:
    assert paths.rel_path(good) == good


@pytest.mark.parametrize(
    "bad",
    ["", "/abs", "../x", "a/..", "a/./b", "a//b", "a/", "a\x00b", "a\x1bb", "a\x85b", "a\\b",
     "\udcff", "x" * 256, None, 3],
)  # fmt: skip
def test_bad_paths(bad: object) -> None:
    with pytest.raises(ValueError):
        paths.rel_path(bad)


def test_hfignore_defaults_and_patterns() -> None:
    ig = Ignore(DEFAULTS + parse("# comment\n\n*.ckpt\nbuild/out\n"))
    for ignored in (
        ".git/HEAD",
        "a/__pycache__/m.cpython-311.pyc",
        "x.pyc",
        ".venv/bin/python",
        ".hfai/index.json",
        "m.ckpt",
        "deep/m.ckpt",
        "build/out/x",
        "build/out",
    ):
        assert ig(ignored), ignored  # fmt: skip
    for kept in ("train.py", "build/other", "src/build/out/x", "gitignore", ".gitignore"):
        assert not ig(kept), kept


def test_diff() -> None:
    d = diff({"a": ("1", 1, False), "b": ("2", 1, False), "c": ("3", 1, True)},
             {"b": ("2", 1, False), "c": ("9", 1, True), "d": ("4", 1, False)})  # fmt: skip
    assert (d.only_local, d.only_remote, d.changed, d.same) == (("a",), ("d",), ("c",), 1)
    assert not d.clean and diff({}, {}).clean


def test_scan_hashes_only_what_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.py").write_text("a")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub/b.txt").write_text("b")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__/x.pyc").write_text("x")
    (tmp_path / ".hfignore").write_text("*.log\n")
    (tmp_path / "run.log").write_text("l")
    os.symlink("/etc/passwd", tmp_path / "link")
    os.symlink("/etc", tmp_path / "dirlink")
    first = local.scan(tmp_path, load(str(tmp_path)))
    assert sorted(first.files) == [".hfignore", "a.py", "sub/b.txt"]
    assert sorted(first.skipped) == ["dirlink", "link"]
    hashed: list[str] = []
    real = local.sha256_file
    monkeypatch.setattr(local, "sha256_file", lambda p: hashed.append(str(p)) or real(p))
    (tmp_path / "sub/b.txt").write_text("bb")
    second = local.scan(tmp_path, load(str(tmp_path)))
    assert hashed == [str(tmp_path / "sub/b.txt")]
    assert second.files["a.py"] == first.files["a.py"]
    assert second.files["sub/b.txt"] != first.files["sub/b.txt"]


def test_config_found_from_below(tmp_path: Path) -> None:
    local.write_config(tmp_path, "proj", "/remote/root/proj", "http://127.0.0.1:1")
    (tmp_path / "a/b").mkdir(parents=True)
    cfg = local.find(tmp_path / "a/b")
    assert cfg is not None and (cfg.root, cfg.name, cfg.remote) == (
        tmp_path,
        "proj",
        "/remote/root/proj",
    )
    (tmp_path / ".hfai/workspace.yml").write_text("name: ../evil\n")
    assert local.find(tmp_path) is None


def test_config_file_is_found_from_any_folder_below(tmp_path) -> None:
    deep = tmp_path / "ws" / "a" / "b"
    deep.mkdir(parents=True)
    assert paths.config_file(str(deep)) is None
    (tmp_path / "ws" / paths.META).mkdir()
    settings = tmp_path / "ws" / paths.META / paths.CONFIG
    settings.write_text("name: ws\n")
    assert paths.config_file(str(deep)) == str(settings)
    assert paths.config_file(str(tmp_path / "ws")) == str(settings)
    assert paths.config_file(str(tmp_path)) is None
