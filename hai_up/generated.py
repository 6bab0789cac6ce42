"""Secrets left empty in the config: generated once, kept, printed once.

``ADMIN_TOKEN``, ``POSTGRES_PASSWORD``, ``REDIS_PASSWORD`` and the token of a ``USER_INFO``
entry (``alice:1000:internal:``) have no default (the old template's public ``change-me``
values are refused). Left empty, ``run`` generates each
(``secrets.token_urlsafe``: letters, digits, ``-`` and ``_``, safe in URLs), keeps it in
``HAI_PLATFORM_PATH/generated-secrets.json`` (mode 0600, root) and prints a generated admin
or user token once; later commands read it from there, so the values stay the same across
runs (the database was initialised with that password). A value set in the config always
wins. ``run``/``upgrade`` keep (and print) what they made only once the provider's preflight
passed (:meth:`Pending.commit`): a refused run writes nothing.

:func:`fill` is pure; :func:`load`/:func:`save` do the I/O.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hai_up.config import UpConfig
from hai_up.errors import EXIT_CONFIG, UpError

FILE = "generated-secrets.json"
FIELDS = {
    "ADMIN_TOKEN": "admin_token",
    "POSTGRES_PASSWORD": "postgres_password",
    "REDIS_PASSWORD": "redis_password",
}


def new_secret() -> str:
    return secrets.token_urlsafe(24)


USER = "USER_INFO:"  # + the user's name: a generated user token


def wanted(cfg: UpConfig) -> list[str]:
    """The secrets this config needs and leaves empty (pure)."""
    out: list[str] = []
    for name, field in FIELDS.items():
        if getattr(cfg, field):
            continue
        if name == "POSTGRES_PASSWORD" and cfg.external_database_url:
            continue  # the external database's URL carries its own
        if name == "REDIS_PASSWORD" and cfg.external_redis_url:
            continue
        out.append(name)
    return out + [f"{USER}{u.name}" for u in cfg.users if not u.token]


def fill(
    cfg: UpConfig, stored: dict[str, str], make: Callable[[], str] = new_secret
) -> tuple[UpConfig, dict[str, str], list[str]]:
    """The config with every empty secret filled (stored first, else made), what to store,
    and the names made now (pure given ``make``)."""
    keep = dict(stored)
    made = []
    values: dict[str, object] = {}
    for name in wanted(cfg):
        if not keep.get(name):
            keep[name] = make()
            made.append(name)
        if name in FIELDS:
            values[FIELDS[name]] = keep[name]
    values["users"] = tuple(
        u if u.token else dataclasses.replace(u, token=keep[f"{USER}{u.name}"]) for u in cfg.users
    )
    return dataclasses.replace(cfg, **values), keep, made


def path(cfg: UpConfig) -> Path:
    return cfg.hai_platform_path / FILE


def load(cfg: UpConfig) -> dict[str, str]:
    try:
        data = json.loads(path(cfg).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise UpError(f"{path(cfg)} is unreadable: {exc}", EXIT_CONFIG) from None
    if not isinstance(data, dict):
        raise UpError(f"{path(cfg)} is not a JSON object", EXIT_CONFIG)
    return {str(k): str(v) for k, v in data.items()}


def save(cfg: UpConfig, data: dict[str, str]) -> None:
    target = path(cfg)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{FILE}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True)
            fh.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except OSError as exc:
        raise UpError(
            f"cannot keep the generated secrets in {target}: {exc}", EXIT_CONFIG
        ) from None


@dataclass(frozen=True)
class Pending:
    """The config with its secrets filled, and what was made for it but not kept yet."""

    cfg: UpConfig
    keep: dict[str, str]
    made: list[str]

    def commit(self, say: Callable[[str], None]) -> None:
        """Keep what was made (0600) and print a made token once; nothing made: nothing."""
        if not self.made:
            return
        save(self.cfg, self.keep)
        say(f"generated {', '.join(self.made)}; kept in {path(self.cfg)} (mode 600)")
        if "ADMIN_TOKEN" in self.made:
            say(f"the admin token (printed this once): {self.cfg.admin_token}")
        tokens = {u.name: u.token for u in self.cfg.users}
        for name in self.made:
            if name.startswith(USER):
                user = name[len(USER) :]
                say(f"the token of user {user} (printed this once): {tokens[user]}")


def prepare(cfg: UpConfig) -> Pending:
    """Fill the empty secrets (stored ones first) without keeping anything yet."""
    if not wanted(cfg):
        return Pending(cfg, {}, [])
    filled, keep, made = fill(cfg, load(cfg))
    return Pending(filled, keep, made)


def resolve(cfg: UpConfig, *, persist: bool, say: Callable[[str], None]) -> UpConfig:
    """``cfg`` with its empty secrets filled. ``persist``: new ones are stored and a new token
    printed once at once; otherwise (dryrun, status, down) stored ones are used and missing
    ones are made for this command only."""
    pending = prepare(cfg)
    if persist:
        pending.commit(say)
    return pending.cfg
