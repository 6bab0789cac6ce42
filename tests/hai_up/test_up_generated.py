"""Secrets left empty: generated once, kept (0600), printed once, a config value wins."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from hai_up import generated
from tests.support.up import config


@pytest.mark.parametrize(
    ("overrides", "wanted"),
    [
        ({}, []),
        ({"ADMIN_TOKEN": ""}, ["ADMIN_TOKEN"]),
        (
            {"ADMIN_TOKEN": "", "POSTGRES_PASSWORD": "", "REDIS_PASSWORD": ""},
            ["ADMIN_TOKEN", "POSTGRES_PASSWORD", "REDIS_PASSWORD"],
        ),
        (
            {
                "POSTGRES_PASSWORD": "",
                "REDIS_PASSWORD": "",
                "EXTERNAL_DATABASE_URL": "postgresql://u:p@db:5432/hai",
                "EXTERNAL_REDIS_URL": "redis://:p@r:6379/0",
            },
            [],
        ),
    ],
)
def test_wanted_table(overrides: dict[str, str], wanted: list[str]) -> None:
    assert generated.wanted(config(**overrides)) == wanted


def test_fill_uses_stored_then_makes() -> None:
    counter = itertools.count()
    cfg = config(ADMIN_TOKEN="", POSTGRES_PASSWORD="")
    filled, keep, made = generated.fill(
        cfg, {"POSTGRES_PASSWORD": "kept-password"}, lambda: f"made-{next(counter)}-0123456789"
    )
    assert (filled.admin_token, filled.postgres_password) == ("made-0-0123456789", "kept-password")
    assert made == ["ADMIN_TOKEN"]
    assert keep == {"POSTGRES_PASSWORD": "kept-password", "ADMIN_TOKEN": "made-0-0123456789"}
    assert filled.redis_password == cfg.redis_password  # set in the config: untouched


def test_resolve_persists_once_and_prints_the_token_once(tmp_path: Path) -> None:
    cfg = config(tmp_path, ADMIN_TOKEN="", REDIS_PASSWORD="")
    said: list[str] = []
    dry = generated.resolve(cfg, persist=False, say=said.append)
    assert dry.admin_token and said == [] and not generated.path(cfg).exists()
    first = generated.resolve(cfg, persist=True, say=said.append)
    assert generated.path(cfg).stat().st_mode & 0o777 == 0o600
    assert said[-1] == f"the admin token (printed this once): {first.admin_token}"
    said.clear()
    again = generated.resolve(cfg, persist=True, say=said.append)
    assert (again.admin_token, again.redis_password) == (first.admin_token, first.redis_password)
    assert said == []  # kept, not printed again
    assert generated.resolve(cfg, persist=False, say=said.append) == first  # status, down
    assert len(first.admin_token) >= 16 and first.admin_token != first.redis_password


def test_a_user_without_a_token_gets_one_printed_once(tmp_path: Path) -> None:
    cfg = config(tmp_path, USER_INFO="alice:1000:internal: bob:1001:external:bob-token-0123456789")
    assert generated.wanted(cfg) == ["USER_INFO:alice"]
    pending = generated.prepare(cfg)
    alice, bob = pending.cfg.users
    assert len(alice.token) >= 16 and bob.token == "bob-token-0123456789"
    assert not generated.path(cfg).exists()  # nothing kept before commit (the preflight)
    said: list[str] = []
    pending.commit(said.append)
    assert said[-1] == f"the token of user alice (printed this once): {alice.token}"
    assert generated.path(cfg).stat().st_mode & 0o777 == 0o600
    again = generated.prepare(cfg)
    assert again.made == [] and again.cfg.users[0].token == alice.token
    again.commit(said.append)
    assert len(said) == 2  # "generated ..." and the token: nothing printed again
