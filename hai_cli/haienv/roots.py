"""Where environments live: ``{envs root}/{owner}/{name}``.

A user's root is ``HAIENV_PATH`` (the cluster sets it to ``{shared storage}/envs/{user}``),
else ``$HAI_HOME/envs/{user}`` (the embedded server's home). Its parent is the envs root:
the sibling directories are the other users' roots, ``platform`` the platform's.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping

from hai_cli.haienv.errors import BadInput
from hai_cli.haienv.names import check_owner


def current_user(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    return environ.get("USER") or environ.get("LOGNAME") or getpass.getuser()


def user_root(environ: Mapping[str, str] | None = None) -> str:
    """This user's environments directory (absolute, normalised)."""
    environ = os.environ if environ is None else environ
    path = environ.get("HAIENV_PATH")
    if not path:
        home = environ.get("HAI_HOME") or os.path.expanduser("~/.hai")
        path = os.path.join(home, "envs", current_user(environ))
    root = os.path.normpath(os.path.abspath(os.path.expanduser(path)))
    try:
        check_owner(os.path.basename(root))
    except BadInput as exc:
        raise BadInput(f"HAIENV_PATH {path!r} must end in a user name: {exc}") from None
    return root


def envs_root(environ: Mapping[str, str] | None = None) -> str:
    return os.path.dirname(user_root(environ))


def me(environ: Mapping[str, str] | None = None) -> str:
    """The owner name of this user's root."""
    return os.path.basename(user_root(environ))
