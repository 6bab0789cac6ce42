"""Before a submission from inside a workspace: push it, and name the cluster's copy.

Typer-free: the submit command's fast path (hai_cli/fastpath.py) calls it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from hai_cli import ui

if TYPE_CHECKING:
    from hai_cli.client import Client


def push_before_submit(client: Client, cwd: str, file: str) -> tuple[str, str] | None:
    """Inside a workspace: push, then (workdir, file) as the cluster's copy names them."""
    from hai_cli.workspace import paths

    if paths.config_file(cwd) is None:  # not in a workspace: nothing more to import
        return None
    from hai_cli.workspace.local import find

    cfg = find(Path(cwd))
    if cfg is None or not cfg.remote:
        return None
    from hai_cli.workspace import sync

    rel_dir = os.path.relpath(cwd, cfg.root)
    here = () if rel_dir == "." else (rel_dir.replace(os.sep, "/"),)
    try:
        res = sync.push(client, cfg, dirs=here)  # the task's directory, even without files
    except sync.SyncError as exc:
        ui.die(str(exc), ui.EXIT_FAILED)
    ui.echo(f"workspace {cfg.name}: pushed {len(res.moved)} file(s) first", err=True)
    workdir = os.path.normpath(os.path.join(cfg.remote, rel_dir))
    absolute = os.path.abspath(file)
    inside = os.path.commonpath([absolute, str(cfg.root)]) == str(cfg.root)
    target = os.path.join(cfg.remote, os.path.relpath(absolute, cfg.root)) if inside else absolute
    return workdir, target
