"""List-then-watch caches of Nodes and Pods, each run by one daemon thread.

A watcher lists once, then follows the watch stream from the list's resourceVersion,
resumes after a server-side timeout, re-lists after ``410 Gone`` or any error (with
back-off), and calls ``on_event(type, obj)`` for every change it applies. It never polls.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable

from hai_server.backends.base import BackendError
from hai_server.backends.kubernetes.client import KubeClient, describe_error

log = logging.getLogger(__name__)

OnEvent = Callable[[str, dict], None]
_GONE = "\x00gone"  # _follow() result: the resourceVersion expired, list again


class Watcher:
    """A cache of one kind of object, kept up to date by a watch in a background thread."""

    def __init__(
        self,
        client: KubeClient,
        kind: str,
        *,
        selector: str | None = None,
        accept: Callable[[dict], bool] = lambda obj: True,
        on_event: OnEvent = lambda kind, obj: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.kind = kind
        self.selector = selector
        self.accept = accept
        self.on_event = on_event
        self.clock = clock
        self.objects: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.synced = threading.Event()  # set after the first successful list
        self.connected = False
        self.down_since: float | None = None
        self.error = ""
        self.events = 0
        self.lists = 0
        self._stop = threading.Event()
        self._resp = None
        self._thread = threading.Thread(target=self._run, name=f"hai-k8s-watch-{kind}", daemon=True)

    # -- lifecycle
    def start(self) -> None:
        self.down_since = self.clock()
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        resp = self._resp
        if resp is not None:
            with contextlib.suppress(Exception):  # best effort while stopping
                sock = getattr(getattr(resp, "connection", None), "sock", None)
                if sock is not None:
                    sock.shutdown(socket.SHUT_RDWR)
                resp.close()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- state
    def snapshot(self) -> dict[str, dict]:
        with self.lock:
            return dict(self.objects)

    def get(self, name: str) -> dict | None:
        with self.lock:
            return self.objects.get(name)

    def put(self, obj: dict) -> None:
        """Seed the cache with an object we just created (the watch event may lag)."""
        name = obj.get("metadata", {}).get("name")
        if name and self.accept(obj):
            with self.lock:
                self.objects.setdefault(name, obj)

    def stale_for(self) -> float:
        """Seconds since the cache was last known to follow the cluster (0 when connected)."""
        if self.connected or self.down_since is None:
            return 0.0
        return max(0.0, self.clock() - self.down_since)

    def health_error(self) -> BackendError:
        what = f"{self.kind} watch"
        detail = self.error or "no answer from the API server yet"
        return BackendError(f"{what} is down for {self.stale_for():.0f}s: {detail}", retryable=True)

    # -- loop
    def _run(self) -> None:
        api = self.client.new_api()
        backoff = 0.5
        while not self._stop.is_set():
            try:
                rv = self._relist(api)
                backoff = 0.5
                while not self._stop.is_set():
                    rv = self._follow(api, rv)
                    if rv is _GONE:
                        break  # 410 Gone: list again
            except Exception as exc:  # the thread must survive anything
                if self._stop.is_set():
                    break
                err = describe_error(exc, f"watch {self.kind}s", self.client.host)
                if self.connected or self.error != str(err):
                    log.warning("%s", err)
                self.error = str(err)
                if self.connected:
                    self.connected = False
                    self.down_since = self.clock()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
        with contextlib.suppress(Exception):
            api.api_client.close()

    def _relist(self, api: object) -> str | None:
        listing = self.client.list_raw(api, self.kind, self.selector)  # type: ignore[arg-type]
        self.lists += 1
        fresh = {}
        for obj in listing.get("items") or ():
            if self.accept(obj):
                fresh[obj["metadata"]["name"]] = obj
        with self.lock:
            gone = [o for n, o in self.objects.items() if n not in fresh]
            self.objects = fresh
        self.connected = True
        self.down_since = None
        self.error = ""
        self.synced.set()
        for obj in gone:
            self.on_event("DELETED", obj)
        for obj in fresh.values():
            self.on_event("ADDED", obj)
        return (listing.get("metadata") or {}).get("resourceVersion")

    def _follow(self, api: object, rv: str | None) -> str | None:
        resp, events = self.client.watch_raw(api, self.kind, self.selector, rv)  # type: ignore[arg-type]
        self._resp = resp
        try:
            for event in events:
                if self._stop.is_set():
                    return rv
                etype = event.get("type")
                obj = event.get("object") or {}
                if etype == "ERROR":
                    if obj.get("code") == 410:
                        return _GONE
                    raise BackendError(f"watch error: {obj.get('message') or obj}")
                new_rv = (obj.get("metadata") or {}).get("resourceVersion")
                if new_rv:
                    rv = new_rv
                if etype == "BOOKMARK":
                    continue
                self._apply(etype or "MODIFIED", obj)
        finally:
            self._resp = None
            resp.release_conn()
        return rv

    def _apply(self, etype: str, obj: dict) -> None:
        name = (obj.get("metadata") or {}).get("name")
        if not name:
            return
        self.events += 1
        if etype == "DELETED":
            with self.lock:
                had = self.objects.pop(name, None)
            if had is not None or self.accept(obj):
                self.on_event("DELETED", obj)
            return
        if not self.accept(obj):
            return
        with self.lock:
            self.objects[name] = obj
        self.on_event(etype, obj)
