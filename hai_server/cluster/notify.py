"""Redis wake-ups between replicas: a hint, never the record.

Every replica publishes on ``hai:wake`` when something it wrote should be acted on soon
(a submit, a stop/suspend/resume, an admin change of quotas, groups or cordons) and
subscribes to the same channel; a message calls the local ``reconciler.wake()``. Only the
leader's tick does anything with it, followers tick to nothing. Nothing is lost when Redis
is down: the record is PostgreSQL and the reconciler's 1 s timer covers every missed
message. ``status`` ("off", "up", "down") is shown in ``/healthz``; the subscriber retries
every second and recovers by itself when Redis returns.

Publishing never blocks a request: ``wake_everyone()`` sets a flag and a background task
sends at most one message per ``COALESCE_S`` (a burst of 500 submissions is a few messages).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable

log = logging.getLogger("hai.notify")
CHANNEL = "hai:wake"
COALESCE_S = 0.005
RETRY_S = 1.0


class Notifier:
    def __init__(self, url: str | None, wake_local: Callable[[], None]) -> None:
        self._url = url
        self._wake_local = wake_local
        self.replica = uuid.uuid4().hex[:12]
        self.status = "off" if not url else "down"
        self.last_error = ""
        self.received = 0
        self.published = 0
        self._pending = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def wake_everyone(self) -> None:
        """Wake this replica's reconciler now and every other replica's through Redis."""
        self._wake_local()
        if self._url:
            self._pending.set()

    async def start(self) -> None:
        if not self._url:
            return
        self._tasks = [
            asyncio.create_task(self._subscribe(), name="redis-subscribe"),
            asyncio.create_task(self._publish(), name="redis-publish"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _client(self):  # type: ignore[no-untyped-def]
        import redis.asyncio as redis

        return redis.Redis.from_url(
            self._url or "",
            socket_connect_timeout=1.0,
            socket_timeout=2.0,
            health_check_interval=5,
        )

    def _down(self, exc: BaseException) -> None:
        if self.status != "down":
            log.warning("redis unavailable (%s); wake-ups fall back to the timer", exc)
        self.status, self.last_error = "down", str(exc) or type(exc).__name__

    async def _subscribe(self) -> None:
        while True:
            client = self._client()
            try:
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(CHANNEL)
                if self.status != "up":
                    log.info("redis connected; subscribed to %s", CHANNEL)
                self.status, self.last_error = "up", ""
                self._wake_local()  # messages may have been missed while down
                while True:
                    msg = await pubsub.get_message(timeout=1.0)
                    if msg is None:
                        await pubsub.ping()
                        continue
                    # replies to our keep-alive pings come through here too: not wake-ups
                    if msg.get("type") == "message" and msg.get("data") != self.replica.encode():
                        self.received += 1
                        self._wake_local()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._down(exc)
            finally:
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(RETRY_S)

    async def _publish(self) -> None:
        client = self._client()
        try:
            while True:
                await self._pending.wait()
                await asyncio.sleep(COALESCE_S)
                self._pending.clear()
                if self.status != "up":
                    continue  # the subscriber reconnects; the timer covers this wake-up
                try:
                    await client.publish(CHANNEL, self.replica)
                    self.published += 1
                except Exception as exc:
                    self._down(exc)
        finally:
            with contextlib.suppress(Exception):
                await client.aclose()
