"""Suspend running tasks with notice before hai-up stops or recreates the servers.

The platform's own path is used: every node is cordoned through the admin API, so each
running task gets the suspend notice, has its grace to checkpoint, and is requeued (POLICY
rule 1, as for a node going away). hai-up waits until no task is starting, running or
suspending, then stops the containers. After the platform is back, the nodes hai-up
cordoned are uncordoned and the tasks resume from their checkpoints. The nodes hai-up
cordoned are recorded in ``HAI_PLATFORM_PATH/drained.json`` first, so a ``run`` after an
interrupted upgrade (or after ``down``) uncordons them; nodes an admin cordoned stay
cordoned.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hai_up.errors import EXIT_UNREACHABLE, UpError

RECORD = "drained.json"
ACTIVE = ("starting", "running", "suspending")
DRAIN_TIMEOUT_S = 300.0


class ApiError(Exception):
    pass


@dataclass
class Api:
    """The admin side of the server's HTTP API (urllib; the admin token)."""

    url: str
    token: str
    timeout: float = 10.0

    def call(
        self, method: str, path: str, query: dict[str, str] | None = None, body: Any = None
    ) -> Any:
        target = self.url + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        data = b"" if method == "POST" else None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(target, method=method, headers=headers, data=data)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")[:200]
            raise ApiError(f"{method} {path}: HTTP {exc.code} {body}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ApiError(f"{method} {path}: {exc}") from None

    def nodes(self) -> list[dict[str, Any]]:
        body = self.call("GET", "/api/v1/nodes")
        return list(body.get("nodes", []) if isinstance(body, dict) else body)

    def active_tasks(self) -> list[dict[str, Any]]:
        body = self.call(
            "GET", "/api/v1/tasks/", {"all": "true", "state": ",".join(ACTIVE), "limit": "500"}
        )
        return list(body.get("tasks", []))

    def quotas(self, principal: str) -> list[dict[str, Any]]:
        body = self.call("GET", "/api/v1/admin/quotas", {"principal": principal})
        return list(body.get("quotas", [])) if isinstance(body, dict) else []

    def set_quota(self, principal: str, resource: str, quota: int) -> None:
        body = {"principal": principal, "resource": resource, "quota": quota}
        self.call("PUT", "/api/v1/admin/quotas", body=body)

    def delete_quota(self, principal: str, resource: str) -> None:
        who, what = (urllib.parse.quote(x, safe="") for x in (principal, resource))
        self.call("DELETE", f"/api/v1/admin/quotas/{who}/{what}")

    def users(self) -> list[dict[str, Any]]:
        body = self.call("GET", "/api/v1/admin/users")
        return list(body.get("users", [])) if isinstance(body, dict) else []

    def set_role(self, user: str, role: str) -> None:
        name = urllib.parse.quote(user, safe="")
        self.call("PUT", f"/api/v1/admin/users/{name}/role", body={"role": role})

    def cordon(self, node: str, on: bool) -> None:
        verb = "cordon" if on else "uncordon"
        self.call("POST", f"/api/v1/admin/nodes/{urllib.parse.quote(node, safe='')}/{verb}")


def _record(root: Path) -> Path:
    return root / RECORD


def _read_record(root: Path) -> list[str]:
    try:
        data = json.loads(_record(root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [str(n) for n in data.get("nodes", [])] if isinstance(data, dict) else []


def drained_nodes(root: Path) -> list[str]:
    """Nodes a drain cordoned and the next run uncordons (status shows them)."""
    return _read_record(root)


def _write_record(root: Path, nodes: list[str]) -> None:
    tmp = root / f".{RECORD}.tmp"
    tmp.write_text(json.dumps({"nodes": sorted(nodes)}) + "\n", encoding="utf-8")
    os.replace(tmp, _record(root))


def active_count(api: Api) -> int | None:
    """Tasks starting, running or suspending; None when the server does not answer."""
    try:
        return len(api.active_tasks())
    except ApiError:
        return None


def drain(
    api: Api,
    root: Path,
    say: Any,
    timeout_s: float = DRAIN_TIMEOUT_S,
    *,
    must_reach: bool = False,
    force: bool = False,
) -> int:
    """Cordon every node, wait until no task is active; the number of tasks suspended.

    A server that does not answer: nothing to drain (said, not fatal: the containers are
    stopped anyway), unless ``must_reach`` (task pods that outlive the server run: UpError,
    exit 4, nothing changed). Tasks still active after ``timeout_s``: UpError, nothing
    stopped, the nodes stay cordoned until the next run. ``force`` (``--force``) turns
    both refusals into a warning and goes on.
    """
    try:
        nodes = api.nodes()
        active = api.active_tasks()
    except ApiError as exc:
        if must_reach and not force:
            raise UpError(
                f"cannot reach the platform's API at {api.url} to suspend the running tasks "
                f"first ({exc}); nothing was changed (--force goes on without notice)",
                EXIT_UNREACHABLE,
            ) from None
        say(f"cannot reach the server to suspend tasks first ({exc}); stopping without notice")
        return 0
    if not active:
        return 0
    mine = [str(n["name"]) for n in nodes if not n.get("cordoned")]
    _write_record(root, sorted(set(mine) | set(_read_record(root))))
    start = time.monotonic()
    say(
        f"suspending {len(active)} task(s) with notice (cordoning {len(mine)} node(s)); "
        "they resume from their checkpoints once the platform is back"
    )
    try:
        for node in mine:
            api.cordon(node, True)
        while True:
            left = api.active_tasks()
            if not left:
                break
            if time.monotonic() - start > timeout_s:
                ids = ", ".join(str(t.get("id")) for t in left)
                late = f"task(s) {ids} still active {timeout_s:.0f} s after the suspend notice"
                if force:
                    say(f"warning: {late}; going on without waiting for them (--force)")
                    return len(active) - len(left)
                raise UpError(
                    f"{late}; nothing was stopped (the nodes stay cordoned until the next "
                    "hai-up run; --force goes on without waiting)",
                    1,
                )
            time.sleep(1.0)
    except ApiError as exc:
        raise UpError(
            f"suspending tasks failed ({exc}); nothing was stopped (re-run hai-up run to "
            "uncordon the nodes)",
            1,
        ) from None
    say(f"{len(active)} task(s) suspended and requeued in {time.monotonic() - start:.1f} s")
    return len(active)


def undrain(api: Api, root: Path, say: Any) -> None:
    """Uncordon the nodes a drain cordoned (recorded), once the platform answers again."""
    nodes = _read_record(root)
    if not nodes:
        return
    failed = []
    for node in nodes:
        try:
            api.cordon(node, False)
        except ApiError as exc:
            failed.append(f"{node} ({exc})")
    if failed:
        say(f"warning: could not uncordon {', '.join(failed)}; the next run retries")
        _write_record(root, [n.split(" ")[0] for n in failed])
        return
    _record(root).unlink(missing_ok=True)
    say(f"uncordoned {len(nodes)} node(s): the suspended tasks are scheduled again")
