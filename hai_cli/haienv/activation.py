"""What activating an environment changes, for a shell, for Python and for a task's ranks.

Pure except :func:`load_chain` (reads the metadata of an environment and of its bases) and
standard library only: the rank wrapper calls :func:`rank_environ` before it starts a rank
(about a millisecond: two or three small JSON files).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from hai_cli.haienv import meta as m
from hai_cli.haienv.errors import HaienvError, NotFound

MAX_DEPTH = 16  # extends chains longer than this are a loop
SAVED_PREFIX = "_HAIENV_OLD_"


@dataclass(frozen=True, slots=True)
class Activation:
    """``set`` replaces, ``prepend`` puts directories in front of a path list, ``unset``
    removes."""

    set: dict[str, str] = field(default_factory=dict)
    prepend: dict[str, tuple[str, ...]] = field(default_factory=dict)
    unset: tuple[str, ...] = ()
    prompt: str = ""

    @property
    def names(self) -> list[str]:
        return sorted({*self.set, *self.prepend, *self.unset})


def load_chain(prefix: str) -> list[m.EnvMeta]:
    """The environment at ``prefix`` and the bases it extends, nearest first."""
    chain: list[m.EnvMeta] = []
    at: str | None = prefix
    while at is not None:
        if len(chain) >= MAX_DEPTH or any(e.prefix == at for e in chain):
            raise HaienvError(f"environment {chain[0].ref} extends itself through {at}")
        found = m.read(at)
        if found is None:
            what = f"the base {at} of {chain[-1].ref}" if chain else f"environment {at}"
            raise NotFound(f"{what} is gone (no {m.META_FILE})")
        chain.append(found)
        at = found.extends.prefix if found.extends else None
    return chain


def activation(chain: list[m.EnvMeta]) -> Activation:
    """What activating ``chain[0]`` (with its bases ``chain[1:]``) changes."""
    env = chain[0]
    sets: dict[str, str] = {}
    for e in reversed(chain):  # the environment's own variables win over its bases'
        sets.update(e.environment)
    sets.update(
        {
            "VIRTUAL_ENV": env.prefix,
            "HF_ENV_NAME": env.name,
            "HF_ENV_OWNER": env.owner,
            # any pip (the base's, the system's) installs into this environment, not the base
            "PIP_PYTHON": os.path.join(env.bin_dir, "python"),
        }
    )
    prepend = {"PATH": tuple(e.bin_dir for e in chain)}
    search = tuple(d for e in chain for d in e.search_dirs)
    if search:
        prepend["PYTHONPATH"] = search
    return Activation(sets, prepend, ("PYTHONHOME",), prompt=f"({env.name}) ")


def apply(act: Activation, environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with ``act`` applied (pure)."""
    out = dict(environ)
    for key in act.unset:
        out.pop(key, None)
    out.update(act.set)
    for key, dirs in act.prepend.items():
        old = [p for p in out.get(key, "").split(os.pathsep) if p and p not in dirs]
        out[key] = os.pathsep.join([*dirs, *old])
    return out


def strip(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without an activated haienv (what a task that opted out must not see)."""
    out = dict(environ)
    prefix = out.get("VIRTUAL_ENV")
    if out.get("HF_ENV_NAME") and prefix:
        try:
            act = activation(load_chain(prefix))
        except HaienvError:
            act = Activation(prepend={"PATH": (os.path.join(prefix, "bin"),)})
        for key in act.set:
            out.pop(key, None)
        for key, dirs in act.prepend.items():
            kept = [p for p in out.get(key, "").split(os.pathsep) if p and p not in dirs]
            if kept:
                out[key] = os.pathsep.join(kept)
            else:
                out.pop(key, None)
    for key in ("HF_ENV_NAME", "HF_ENV_OWNER", "PIP_PYTHON"):
        out.pop(key, None)
    return {k: v for k, v in out.items() if not k.startswith(SAVED_PREFIX)}


def rank_environ(environ: Mapping[str, str]) -> dict[str, str] | None:
    """A rank's environment with its task's haienv activated; None when it has none.

    The launch sets ``HF_ENV_NAME``, ``HF_ENV_OWNER`` and ``VIRTUAL_ENV`` (the prefix); the
    rest (PATH, PYTHONPATH, the extra variables) comes from the metadata here, on the node.
    """
    prefix = environ.get("VIRTUAL_ENV")
    if not environ.get("HF_ENV_NAME") or not prefix:
        return None
    return apply(activation(load_chain(prefix)), environ)


def render_sh(act: Activation) -> str:
    """POSIX shell code that activates, and defines ``deactivate`` to undo it exactly."""
    import shlex

    q = shlex.quote
    lines = [
        '# haienv activation: eval "$(haienv activate NAME)" or source haienv NAME',
        'if [ -n "${_HAIENV_ACTIVE:-}" ] || { [ -n "${VIRTUAL_ENV:-}" ] && '
        "command -v deactivate >/dev/null 2>&1; }; then deactivate; fi",
    ]
    saved = [*act.names, "PS1"]
    for key in saved:
        old = SAVED_PREFIX + key
        lines.append(f'if [ -n "${{{key}+x}}" ]; then {old}=${key}; else unset {old}; fi')
    for key in act.unset:
        lines.append(f"unset {key}")
    for key, value in sorted(act.set.items()):
        lines.append(f"{key}={q(value)}; export {key}")
    for key, dirs in sorted(act.prepend.items()):
        joined = q(os.pathsep.join(dirs))
        lines.append(f'{key}={joined}"${{{key}:+:${key}}}"; export {key}')
    if act.prompt:
        lines.append(f'if [ -n "${{PS1+x}}" ]; then PS1={q(act.prompt)}"$PS1"; fi')
    restore = []
    for key in saved:
        old = SAVED_PREFIX + key
        export = "" if key == "PS1" else f"; export {key}"
        restore.append(
            f'  if [ -n "${{{old}+x}}" ]; then {key}=${old}{export}; unset {old}; '
            f"else unset {key}; fi"
        )
    lines += [
        "deactivate () {",
        *restore,
        "  unset _HAIENV_ACTIVE",
        "  unset -f deactivate",
        "  hash -r 2>/dev/null",
        "  return 0",
        "}",
        "_HAIENV_ACTIVE=1",
        "hash -r 2>/dev/null",
        "",
    ]
    return "\n".join(lines)
