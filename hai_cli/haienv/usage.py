"""Which queued or running tasks use an environment: asked of the HAI server (remove needs it)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from hai_cli.haienv.errors import HaienvError, Unreachable


def tasks_using(owner: str, name: str) -> list[dict[str, Any]]:
    """The server's queued and active tasks that run in ``name[owner]``.

    The configured server (HAI_SERVER_URL or hai-cli init), else the embedded one (started if
    it is not running: its queue may hold tasks). :class:`Unreachable` when there is none.
    """
    from hai_cli import config, embedded
    from hai_cli.client import ApiError, Client, ConnectionFailed

    what = f"cannot check whether tasks use {name}[{owner}]"
    try:
        target = config.configured_target() or embedded.ensure()
        client = Client(target.url, target.token, source=target.source)
        path = f"/api/v1/environments/{quote(owner, safe='')}/{quote(name, safe='')}/tasks"
        return list(client.request("GET", path)["tasks"])
    except (ConnectionFailed, config.ConfigError, embedded.EmbeddedError, ValueError) as exc:
        raise Unreachable(f"{what}: {exc}; --force removes it anyway") from None
    except ApiError as exc:
        raise HaienvError(f"{what}: the server answered {exc.status}: {exc.message}") from None
