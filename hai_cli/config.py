"""Where the CLI finds its server: environment, then ``hai-cli init``, then the embedded one.

1. ``HAI_SERVER_URL`` (+ ``HAI_TOKEN``) in the environment;
2. ``$HAI_HOME/client.toml`` written by ``hai-cli init TOKEN --url URL``;
3. the embedded server under ``$HAI_HOME`` (started in the background when not running).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple


def hai_home() -> Path:
    return Path(os.environ.get("HAI_HOME") or os.path.expanduser("~/.hai")).absolute()


class Target(NamedTuple):  # not a dataclass: dataclasses costs every command ~7 ms
    url: str
    token: str
    source: str  # env | init | embedded


class ConfigError(Exception):
    pass


def client_file(home: Path | None = None) -> Path:
    return (home or hai_home()) / "client.toml"


def read_client_file(home: Path | None = None) -> Target | None:
    path = client_file(home)
    try:
        with open(path, "rb") as fh:
            import tomllib  # only when there is a file to read

            data = tomllib.load(fh)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:  # tomllib.TOMLDecodeError is a ValueError
        raise ConfigError(f"cannot read {path}: {exc}; run hai-cli init again") from None
    url, token = data.get("url"), data.get("token")
    if not isinstance(url, str) or not isinstance(token, str):
        raise ConfigError(f"{path} needs url and token; run hai-cli init again")
    return Target(url, token, "init")


def write_client_file(url: str, token: str, home: Path | None = None) -> Path:
    path = client_file(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(f"{path}.tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(f"url = {_quote(url)}\ntoken = {_quote(token)}\n")
    os.replace(f"{path}.tmp", path)
    return path


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def configured_target() -> Target | None:
    """The explicitly configured server (environment or init), or None for embedded."""
    url = os.environ.get("HAI_SERVER_URL")
    if url:
        token = os.environ.get("HAI_TOKEN")
        if token is None:
            saved = read_client_file()
            token = saved.token if saved else None
        if not token:
            raise ConfigError(
                "HAI_SERVER_URL is set but no token: set HAI_TOKEN or run hai-cli init"
            )
        return Target(url, token, "env")
    saved = read_client_file()
    if saved is not None:
        token = os.environ.get("HAI_TOKEN") or saved.token
        return Target(saved.url, token, "init")
    return None
