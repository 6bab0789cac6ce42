"""A small typed HTTP client for the HAI API, shared by the CLI and the TUI.

Built on the standard library's ``http.client`` with one kept-alive connection: importing
httpx alone costs ~300 ms (it loads its own CLI, click and rich), more than the whole
budget of ``hai-cli list``.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode, urlsplit


class ApiError(Exception):
    """The server answered with an error status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class ConnectionFailed(Exception):
    """The server could not be reached."""


class Client:
    def __init__(self, url: str, token: str, timeout: float = 30.0, source: str = "env") -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"bad server URL {url!r}: expected http://HOST:PORT")
        self.url = url.rstrip("/")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._base = parts.path.rstrip("/")
        self._token = token
        self._timeout = timeout
        self.source = source  # where the target came from: env | init | embedded
        self._conn: http.client.HTTPConnection | None = None

    def clone(self) -> Client:
        """The same target and token on a connection of its own (for another thread)."""
        return Client(self.url, self._token, self._timeout, self.source)

    # -- transport ---------------------------------------------------------------------
    def _connection(self, timeout: float | None = None) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
        return cls(self._host, self._port, timeout=timeout or self._timeout)

    def _headers(self, body: bytes | None, ctype: str = "application/json") -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = ctype
        return headers

    def _send(
        self, method: str, target: str, payload: bytes | None, ctype: str = "application/json"
    ) -> tuple[http.client.HTTPResponse, bytes]:
        """One request on the kept-alive connection, sent again once on a fresh connection when
        the kept one was closed by the server meanwhile."""
        for attempt in (0, 1):
            if self._conn is None:
                self._conn = self._connection()
            try:
                self._conn.request(
                    method, target, body=payload, headers=self._headers(payload, ctype)
                )
                resp = self._conn.getresponse()
                return resp, resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                if attempt:
                    raise ConnectionFailed(
                        f"cannot reach the server at {self.url}: {exc}"
                    ) from None
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise ConnectionFailed(
                    f"cannot reach the server at {self.url}: {_why(exc)}"
                ) from None
        raise AssertionError("unreachable")  # the loop returns or raises

    def get_bytes(self, path: str, params: dict[str, Any] | None = None, body: Any = None) -> bytes:
        """A binary answer whole, on the kept-alive connection: GET, or POST of ``body``."""
        target = self._target(path, params)
        payload = json.dumps(body).encode() if body is not None else None
        resp, data = self._send("GET" if body is None else "POST", target, payload)
        if resp.status >= 400:
            _decode(resp.status, resp.getheader("content-type", ""), data)
        return data

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        *,
        raw: bytes | None = None,
    ) -> Any:
        """One call; ``body`` goes as JSON, ``raw`` as application/octet-stream."""
        target = self._target(path, params)
        payload = (
            raw if raw is not None else json.dumps(body).encode() if body is not None else None
        )
        ctype = "application/octet-stream" if raw is not None else "application/json"
        resp, data = self._send(method, target, payload, ctype)
        return _decode(resp.status, resp.getheader("content-type", ""), data)

    def stream(self, path: str, params: dict[str, Any] | None = None) -> Iterator[bytes]:
        """GET a streamed body chunk by chunk (own connection, no read timeout)."""
        conn = self._connection(timeout=None)
        try:
            conn.request("GET", self._target(path, params), headers=self._headers(None))
            if conn.sock is not None:
                conn.sock.settimeout(None)  # a followed log may be quiet for long
            resp = conn.getresponse()
            if resp.status >= 400:
                _decode(resp.status, resp.getheader("content-type", ""), resp.read())
            while True:
                chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(4096)
                if not chunk:
                    return
                yield chunk
        except (OSError, http.client.HTTPException) as exc:
            raise ConnectionFailed(f"lost the connection to {self.url}: {_why(exc)}") from None
        finally:
            conn.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _target(self, path: str, params: dict[str, Any] | None) -> str:
        target = self._base + path
        if params:
            clean = {k: _param(v) for k, v in params.items() if v is not None}
            if clean:
                target += "?" + urlencode(clean, doseq=True)
        return target

    # -- API ---------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return self.request("GET", "/healthz")

    def whoami(self) -> dict[str, Any]:
        return self.request("GET", "/api/v1/whoami")

    def my_quota(self) -> dict[str, Any]:
        return self.request("GET", "/api/v1/whoami/quota")

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", "/api/v1/tasks", body=body)

    def list_tasks(
        self,
        *,
        states: list[str] | None = None,
        all_users: bool = False,
        limit: int = 50,
        offset: int = 0,
        name: str | None = None,
    ) -> dict[str, Any]:
        params = {
            "state": ",".join(states) if states else None,
            "all": all_users or None,
            "limit": limit,
            "offset": offset,
            "name": name,
        }
        return self.request("GET", "/api/v1/tasks", params=params)

    def task(self, task_id: int) -> dict[str, Any]:
        return self.request("GET", f"/api/v1/tasks/{task_id}")

    def submission(self, task_id: int) -> dict[str, Any]:
        return self.request("GET", f"/api/v1/tasks/{task_id}/submission")

    def why(self, task_id: int) -> dict[str, Any]:
        return self.request("GET", f"/api/v1/tasks/{task_id}/why")

    def action(self, task_id: int, verb: str) -> dict[str, Any]:
        return self.request("POST", f"/api/v1/tasks/{task_id}/{verb}")

    def bulk(self, verb: str, selection: dict[str, Any]) -> dict[str, Any]:
        """One request, one transaction: ``verb`` on every task ``selection`` picks."""
        return self.request("POST", f"/api/v1/tasks/actions/{verb}", body=selection)

    def logs(
        self, task_id: int, *, rank: int = 0, attempt: int | None = None, offset: int = 0
    ) -> str:
        return self.request(
            "GET",
            f"/api/v1/tasks/{task_id}/logs",
            params={"rank": rank, "attempt": attempt, "offset": offset},
        )

    def follow_logs(
        self, task_id: int, *, rank: int = 0, attempt: int | None = None, offset: int = 0
    ) -> Iterator[bytes]:
        params = {"rank": rank, "attempt": attempt, "offset": offset, "follow": "true"}
        return self.stream(f"/api/v1/tasks/{task_id}/logs", params)

    def nodes(self) -> dict[str, Any]:
        return self.request("GET", "/api/v1/nodes")

    # -- Jupyter containers (by name; ``user``: someone else's, for admins) ------------------
    def jupyter_create(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", "/api/v1/jupyter", body=body)

    def jupyter_list(self, all_users: bool = False) -> dict[str, Any]:
        return self.request("GET", "/api/v1/jupyter", params={"all": all_users or None})

    def jupyter(
        self, name: str, action: str = "", method: str = "GET", user: str | None = None
    ) -> Any:
        path = f"/api/v1/jupyter/{quote(name, safe='')}" + (f"/{action}" if action else "")
        return self.request(method, path, params={"user": user})

    def jupyter_follow(self, name: str, user: str | None = None) -> Iterator[bytes]:
        path = f"/api/v1/jupyter/{quote(name, safe='')}/logs"
        return self.stream(path, {"follow": "true", "user": user})

    def get_path(self, path: str) -> Any:
        """GET any path of the server (e.g. a container's ``/{user}/{name}/api/status``)."""
        return self.request("GET", path)


def _param(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


def _why(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _decode(status: int, ctype: str, data: bytes) -> Any:
    is_json = "json" in ctype
    if status >= 400:
        code, message = "error", data.decode(errors="replace").strip() or f"HTTP {status}"
        if is_json:
            try:
                obj = json.loads(data)
                code = obj.get("error", code)
                message = obj.get("message") or obj.get("detail") or message
            except (ValueError, AttributeError):
                pass
        raise ApiError(status, code, message)
    if is_json:
        return json.loads(data) if data else None
    return data.decode(errors="replace")
