"""hai-up configuration: read ``config.sh`` (or the environment), validate, freeze.

:func:`load_config` sources the file with bash in a clean environment, then the template
(:data:`CONFIG_TEMPLATE`) fills what the file left unset; :func:`parse_config` is pure and
raises one :class:`ConfigError` listing every problem, each naming its variable and the
expected format. The model lives in hai_up/config_model.py, the validation in
hai_up/config_check.py; this module is what the rest of hai-up imports.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from hai_up.config_check import parse_config
from hai_up.config_model import PRIORITIES, REFUSED, ExtraMount, UpConfig, UserInfo
from hai_up.errors import ConfigError
from hai_up.template import CONFIG_TEMPLATE

__all__ = [
    "CONFIG_TEMPLATE",
    "PRIORITIES",
    "VARIABLES",
    "ConfigError",
    "ExtraMount",
    "UpConfig",
    "UserInfo",
    "load_config",
    "parse_config",
]

VARIABLES: tuple[str, ...] = tuple(
    re.findall(r'^export ([A-Z_][A-Z0-9_]*)="', CONFIG_TEMPLATE, flags=re.MULTILINE)
)
_BASH_OWN = {"PWD", "OLDPWD", "SHLVL", "_"}


# -- loading ------------------------------------------------------------------------------
_SOURCE = 'set -a; if [ -n "$1" ]; then . "$1" || exit 97; fi; . /dev/stdin; env -0'


def _source(path: Path | None, env: dict[str, str]) -> dict[str, str]:
    bash = shutil.which("bash") or "/bin/bash"
    try:
        out = subprocess.run(
            [bash, "-c", _SOURCE, "hai-up", str(path) if path else ""],
            input=CONFIG_TEMPLATE.encode(),
            env=env,
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigError([f"cannot source the configuration with bash: {exc}"]) from None
    if out.returncode != 0:
        lines = out.stderr.decode(errors="replace").strip().splitlines()
        why = " ".join(ln.strip() for ln in lines[-3:]) or f"bash exited with {out.returncode}"
        raise ConfigError([f"config file {path}: {why}"])
    values: dict[str, str] = {}
    for item in out.stdout.decode(errors="replace").split("\0"):
        name, sep, value = item.partition("=")
        if sep and name not in _BASH_OWN:
            values[name] = value
    return values


def unknown_warnings(values: Mapping[str, str]) -> tuple[str, ...]:
    """One warning per variable hai-up does not know, with the nearest known name (pure)."""
    known = set(VARIABLES) | set(REFUSED)
    out = []
    for name in sorted(values):
        if name in known or not re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
            continue
        near = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
        hint = f" (did you mean {near[0]}?)" if near else ""
        out.append(f"{name} is not a hai-up variable and is ignored{hint}")
    return tuple(out)


def load_config(path: Path | None, environ: Mapping[str, str]) -> UpConfig:
    """The configuration from ``path`` (then defaults), or from ``environ`` (then defaults)."""
    if path is not None:
        if not path.is_file():
            raise ConfigError([f"config file {path}: not found (create one with hai-up config)"])
        values = _source(path.absolute(), {})
        warnings = unknown_warnings(values)
    else:
        known = set(VARIABLES) | set(REFUSED)
        values = _source(None, {k: v for k, v in environ.items() if k in known})
        warnings = ()
    from hai_up.baseenvs import resolve_specs  # reads the spec files (config imports no I/O)

    cfg, more = resolve_specs(parse_config(values))
    return dataclasses.replace(cfg, warnings=warnings + more)
