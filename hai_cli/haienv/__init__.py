"""haienv: Python environments on shared storage, made with uv, used by tasks and notebooks.

Importable as ``haienv`` (and ``hai_cli.haienv``)::

    import haienv
    haienv.set_env("myenv")          # or "myenv[owner]"
    haienv.get_envs()                # this user's environments

Standard library only; the command is ``haienv`` / ``hai-cli venv`` (see ``cli``).
"""

from __future__ import annotations

import os
import site
import sys
from typing import Any


def get_envs(user: str | None = None, all_users: bool = False) -> list[dict[str, Any]]:
    """The environments of ``user`` (default: this user), or everyone's with ``all_users``."""
    from hai_cli.haienv import roots, store
    from hai_cli.haienv.cli import _record

    only = None if all_users else [user or roots.me()]
    return [_record(e) for e in store.list_envs(roots.envs_root(), only)]


def set_env(name: str, owner: str | None = None) -> str:
    """Activate environment ``name`` (``NAME[owner]``) in this process: its packages (and its
    bases') become importable, and ``os.environ`` gets what ``source haienv`` would set, so
    subprocesses run in it too. Returns its directory."""
    from hai_cli.haienv import activation, roots, store
    from hai_cli.haienv.names import parse_ref

    env_name, ref_owner = parse_ref(name)
    env = store.resolve(roots.envs_root(), env_name, owner or ref_owner, roots.me())
    chain = activation.load_chain(env.prefix)
    act = activation.activation(chain)
    new = activation.apply(act, os.environ)
    for key in act.unset:
        os.environ.pop(key, None)
    os.environ.update(new)
    for e in chain:  # the environment's own site-packages first, then its bases'
        site.addsitedir(e.site_packages)
    first = [d for e in chain for d in e.search_dirs] + [e.site_packages for e in chain]
    sys.path[:] = first + [p for p in sys.path if p not in first]
    return env.prefix


__all__ = ["get_envs", "set_env"]
