"""Secrets left empty in the config: generated once, kept, printed once.

``ADMIN_TOKEN``, ``POSTGRES_PASSWORD`` and ``REDIS_PASSWORD`` have no default (the old
template's public ``change-me`` values are refused). Left empty, ``run`` generates each
(``secrets.token_urlsafe``: letters, digits, ``-`` and ``_``, safe in URLs), keeps it in
``HAI_PLATFORM_PATH/generated-secrets.json`` (mode 0600, root) and prints a generated admin
token once; later commands read it from there, so the values stay the same across runs (the
database was initialised with that password). A value set in the config always wins.

:func:`fill` is pure; :func:`load`/:func:`save` do the I/O.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
from collections.abc import Callable
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


def wanted(cfg: UpConfig) -> list[str]:
    """The secrets this config needs and leaves empty (pure)."""
    out = []
    for name, field in FIELDS.items():
        if getattr(cfg, field):
            continue
        if name == "POSTGRES_PASSWORD" and cfg.external_database_url:
            continue  # the external database's URL carries its own
        if name == "REDIS_PASSWORD" and cfg.external_redis_url:
            continue
        out.append(name)
    return out


def fill(
    cfg: UpConfig, stored: dict[str, str], make: Callable[[], str] = new_secret
) -> tuple[UpConfig, dict[str, str], list[str]]:
    """The config with every empty secret filled (stored first, else made), what to store,
    and the names made now (pure given ``make``)."""
    keep = dict(stored)
    made = []
    values = {}
    for name in wanted(cfg):
        if not keep.get(name):
            keep[name] = make()
            made.append(name)
        values[FIELDS[name]] = keep[name]
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


def resolve(cfg: UpConfig, *, persist: bool, say: Callable[[str], None]) -> UpConfig:
    """``cfg`` with its empty secrets filled. ``persist`` (run, upgrade): new ones are stored
    and a new admin token printed once; otherwise (dryrun, status, down) stored ones are used
    and missing ones are made for this command only."""
    if not wanted(cfg):
        return cfg
    stored = load(cfg)
    filled, keep, made = fill(cfg, stored)
    if persist and made:
        save(cfg, keep)
        say(f"generated {', '.join(made)}; kept in {path(cfg)} (mode 600)")
        if "ADMIN_TOKEN" in made:
            say(f"the admin token (printed this once): {filled.admin_token}")
    return filled
