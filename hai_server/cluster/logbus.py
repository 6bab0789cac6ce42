"""The Redis side of the log fan-out (``logfan.py``): leases, publishing, one subscriber.

Per followed rank log: the lease ``hai:logtail:{task}:{attempt}:{rank}`` (``SET NX PX``,
refreshed and released only by its holder, with Lua compare-and-act) names the one replica
that tails the file; its chunks go out on ``hai:log:{task}:{attempt}:{rank}`` as
``offset (8 bytes) + replica (12 bytes) + bytes``. One pub/sub connection per replica
subscribes to the channels its hub asks for and hands each chunk from another replica to
the hub. ``status`` is "off" (no Redis configured), "up" or "down"; every failure marks it
down (the hub's tails then poll files) and the subscriber reconnects every ``RETRY_S``.
No call blocks the event loop, and none takes longer than the client's 2 s socket timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from hai_server.services.logtypes import BusFactory, Counters, LogKey

log = logging.getLogger("hai.logfan")

LEASE_MS = 3000  # a dead tailer's lease lapses after this long
LISTEN_S = 0.2  # the subscriber connection picks up new channels at least this often
RETRY_S = 1.0
HOME = "hai:log:-"  # always subscribed: the connection is up even with nothing followed

_REFRESH = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
)
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)


def _pack(offset: int, replica: bytes, data: bytes) -> bytes:
    return offset.to_bytes(8, "big") + replica + data


class LogBus:
    """This replica's Redis connection for logs."""

    def __init__(
        self,
        url: str | None,
        replica: str,
        counters: Counters,
        channels: Callable[[], set[str]],
        deliver: Callable[[str, int, bytes], None],
        on_up: Callable[[], None],
    ) -> None:
        self._url = url
        self.replica = replica.encode()[:12].ljust(12, b"-")
        self.status = "off" if not url else "down"
        self.counters = counters
        self._channels, self._deliver, self._on_up = channels, deliver, on_up
        self._client: Any = None
        self._listener: asyncio.Task[None] | None = None
        self._subscribed: set[str] = set()

    async def start(self) -> None:
        if self._url:
            self._client = self._new_client()
            self._listener = asyncio.create_task(self._listen(), name="logbus-listen")

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()

    def _new_client(self) -> Any:
        import redis.asyncio as redis

        return redis.Redis.from_url(self._url or "", socket_connect_timeout=1.0, socket_timeout=2.0)

    def hears(self, channel: str) -> bool:
        """True once this replica's subscriber connection is subscribed to ``channel``."""
        return channel in self._subscribed

    def _down(self, exc: BaseException) -> None:
        if self.status == "up":
            log.warning("redis unavailable for log fan-out (%s); followers poll files", exc)
        self.status = "down"

    async def acquire(self, key: LogKey) -> bool:
        try:
            got = await self._client.set(key.lease, self.replica, nx=True, px=LEASE_MS)
        except Exception as exc:
            self._down(exc)
            return False
        if got:
            self.counters.leases += 1
        return bool(got)

    async def refresh(self, key: LogKey) -> bool:
        try:
            return bool(await self._client.eval(_REFRESH, 1, key.lease, self.replica, LEASE_MS))
        except Exception as exc:
            self._down(exc)
            return False

    async def release(self, key: LogKey) -> None:
        with contextlib.suppress(Exception):
            await self._client.eval(_RELEASE, 1, key.lease, self.replica)

    async def publish(self, key: LogKey, offset: int, data: bytes) -> bool:
        try:
            await self._client.publish(key.channel, _pack(offset, self.replica, data))
        except Exception as exc:
            self._down(exc)
            return False
        if data:
            self.counters.published += 1
        return True

    async def _listen(self) -> None:
        """One subscriber connection for every followed log of this replica."""
        while True:
            client = self._new_client()
            try:
                pubsub = client.pubsub()
                await pubsub.subscribe(HOME)
                asked: set[str] = set()  # self._subscribed follows the confirmations
                self._subscribed = set()
                if self.status != "up":
                    log.info("redis connected; log fan-out on")
                self.status = "up"
                self._on_up()
                idle = 0.0
                while True:
                    if self.status != "up":  # a command failed: start afresh
                        raise ConnectionError("a log fan-out command failed")
                    want = self._channels()
                    if want - asked:
                        await pubsub.subscribe(*(want - asked))
                    if asked - want:
                        await pubsub.unsubscribe(*(asked - want))
                    asked = want
                    msg = await pubsub.get_message(timeout=LISTEN_S)
                    if msg is None:
                        idle += LISTEN_S
                        if idle >= RETRY_S:
                            idle = 0.0
                            await pubsub.ping()
                        continue
                    idle = 0.0
                    kind, channel = msg.get("type"), msg.get("channel") or b""
                    name = channel.decode() if isinstance(channel, bytes) else str(channel)
                    if kind == "message":
                        self._heard(name, msg["data"])
                    elif kind == "subscribe":  # from now on every chunk reaches us
                        self._subscribed.add(name)
                    elif kind == "unsubscribe":
                        self._subscribed.discard(name)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._down(exc)
            finally:
                self._subscribed = set()
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(RETRY_S)

    def _heard(self, channel: str, data: bytes) -> None:
        if len(data) < 20 or data[8:20] == self.replica:
            return  # malformed, or our own
        if len(data) > 20:
            self.counters.received += 1
        self._deliver(channel, int.from_bytes(data[:8], "big"), data[20:])


def bus_factory(url: str | None, replica: str) -> BusFactory | None:
    """What ``LogFan`` builds its bus with: Redis at ``url``, or None without Redis."""
    if not url:
        return None
    return lambda counters, channels, deliver, on_up: LogBus(
        url, replica, counters, channels, deliver, on_up
    )
