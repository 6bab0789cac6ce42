"""Log fan-out: one tailer per followed rank log across replicas, Redis pub/sub to the rest.

A rank log is one append-only file per rank per attempt on storage every replica can read.
Every replica keeps, per followed log, one ``Tail``: a bounded buffer of the file's recent
bytes that all of its ``logs -f`` followers read from by offset (N followers, one tail).

With Redis up, the replica holding the lease ``hai:logtail:{task}:{attempt}:{rank}``
(``SET NX PX``, refreshed while it tails) polls the file and publishes each new chunk as
``(offset, bytes)`` on ``hai:log:{task}:{attempt}:{rank}``, plus an empty chunk (the current
size) every ``HEARTBEAT_S`` when idle; the other replicas subscribe and only read the file to
fill a gap (a chunk starting past what they hold: joined late, lease handover, a lost
message). Without Redis (embedded, or down) each replica's tail polls the file itself; when
Redis comes back the tails go back to it. The file is the record: followers behind a tail's
buffer (late joiners, slow clients) read the missing range from the file, so nothing is lost,
duplicated or reordered, and no follower has a queue that a slow client could grow.

Task state (attempt changes, the end of the stream) is the caller's business
(``LogService``); this module knows files and Redis only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

log = logging.getLogger("hai.logfan")

POLL_S = 0.05  # file poll of a tailing replica (and of every replica without Redis)
LEASE_MS = 3000  # a dead tailer's lease lapses after this long
LEASE_REFRESH_S = 1.0
LEASE_TRY_S = 0.5  # a subscriber tries to take a free lease this often
HEARTBEAT_S = 1.0  # an idle tailer publishes the file size this often
SILENCE_S = 2.5  # a subscriber that heard nothing for this long reads the file once itself
LISTEN_S = 0.2  # the subscriber connection picks up new channels at least this often
RETRY_S = 1.0
CHUNK = 1 << 20  # most bytes read from the file, published or handed out at once
BUFFER = 1 << 20  # recent bytes a replica keeps per followed log
INBOX = 1 << 20  # bytes heard and not yet taken per log; more is dropped (a gap: the file)
HOME = "hai:log:-"  # always subscribed: the connection is up even with nothing followed

_REFRESH = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
)
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)


def read_file(path: str, offset: int, limit: int = CHUNK) -> bytes:
    """Bytes of ``path`` from ``offset`` (at most ``limit``); nothing if it does not exist."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read(limit)
    except FileNotFoundError:
        return b""


def file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


@dataclass(frozen=True)
class LogKey:
    task_id: int
    attempt: int
    rank: int
    path: str

    @property
    def channel(self) -> str:
        return f"hai:log:{self.task_id}:{self.attempt}:{self.rank}"

    @property
    def lease(self) -> str:
        return f"hai:logtail:{self.task_id}:{self.attempt}:{self.rank}"


@dataclass
class Counters:
    """What this replica did for its followers (``/healthz`` "logs", ``/metrics``)."""

    tail_polls: int = 0  # file reads of a tail (tailer, or polling without Redis)
    catchup_reads: int = 0  # file reads of a follower behind its tail's buffer
    gap_fills: int = 0  # file reads filling a gap between chunks heard from Redis
    published: int = 0  # chunks published (heartbeats not counted)
    received: int = 0  # chunks heard from other replicas
    leases: int = 0  # times this replica became a log's tailer
    follows: int = 0  # followers ever attached
    dropped: int = 0  # chunks heard while the tail was behind (their bytes read from the file)


def _pack(offset: int, replica: bytes, data: bytes) -> bytes:
    return offset.to_bytes(8, "big") + replica + data


class Tail:
    """One followed rank log in this replica: the buffer its followers read from."""

    def __init__(self, fan: LogFan, key: LogKey, start: int) -> None:
        self.fan, self.key = fan, key
        self.start = start  # file offset of buf[0]
        self.buf = bytearray()
        self.followers = 0
        self.leader = False  # this replica holds the lease and publishes
        self.inbox: deque[tuple[int, bytes]] = deque()
        self.inbox_bytes = 0
        self.wake = asyncio.Event()
        self._changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    @property
    def end(self) -> int:
        return self.start + len(self.buf)

    async def read(self, offset: int, timeout: float) -> bytes:
        """The file's bytes from ``offset`` on, waiting up to ``timeout`` for some (else b"")."""
        waited = False
        while True:
            if offset < self.start:  # behind the buffer: the file has it
                self.fan.counters.catchup_reads += 1
                data = await asyncio.to_thread(read_file, self.key.path, offset)
                if data:
                    return data
            elif offset < self.end:
                i = offset - self.start
                return bytes(self.buf[i : i + CHUNK])
            if waited or timeout <= 0:
                return b""
            waited = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)

    def _append(self, data: bytes) -> None:
        self.buf += data
        if len(self.buf) > BUFFER:
            drop = len(self.buf) - BUFFER
            del self.buf[:drop]
            self.start += drop
        self._changed.set()
        self._changed = asyncio.Event()

    async def _take(self, offset: int, data: bytes) -> None:
        """Add a chunk at ``offset``: trim what we hold already, fill a gap from the file."""
        if offset > self.end + BUFFER:  # too far to fill: start afresh (followers behind
            self.buf.clear()  # the new start read the file, as late joiners do)
            self.start = offset
        elif offset > self.end:
            self.fan.counters.gap_fills += 1
            fill = await asyncio.to_thread(read_file, self.key.path, self.end, offset - self.end)
            if fill:
                self._append(fill)
            if offset > self.end:  # the file is shorter than the chunk says: keep to the file
                return
        skip = self.end - offset
        if skip < len(data):
            self._append(data[skip:])

    async def _poll(self) -> bytes:
        self.fan.counters.tail_polls += 1
        data = await asyncio.to_thread(read_file, self.key.path, self.end)
        if data:
            self._append(data)
        return data

    async def run(self) -> None:
        """Feed the tail until cancelled; an unexpected error is logged and the loop restarts."""
        while True:
            try:
                await self._run()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("log tail %s failed; restarting it", self.key.channel)
                self.leader = False
                await asyncio.sleep(RETRY_S)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        fan = self.fan
        next_try = next_refresh = last_pub = 0.0
        heard = loop.time()
        while True:
            now = loop.time()
            up = fan.status == "up"
            if not up:
                self.leader = False  # its lease lapses by itself
            elif not self.leader and now >= next_try:
                next_try = now + LEASE_TRY_S
                self.leader = await fan.acquire(self.key)
                next_refresh = now + LEASE_REFRESH_S
                if self.leader:
                    last_pub = 0.0  # announce the size at once
            if self.leader and now >= next_refresh:
                next_refresh = now + LEASE_REFRESH_S
                self.leader = await fan.refresh(self.key)
            self.wake.clear()
            if self.leader:
                self.inbox.clear()  # what we publish ourselves, or an old tailer's: the file has it
                self.inbox_bytes = 0
            while self.inbox:
                offset, data = self.inbox.popleft()
                self.inbox_bytes -= len(data)
                heard = loop.time()
                await self._take(offset, data)
            if self.leader or not up or not fan.hears(self.key.channel):
                # tailing, or no Redis, or not subscribed yet: the file is the only source
                offset = self.end
                data = await self._poll()
                if self.leader and (data or loop.time() - last_pub >= HEARTBEAT_S):
                    if await fan.publish(self.key, offset, data):
                        last_pub = loop.time()
                    else:
                        self.leader = False
                if len(data) < CHUNK:  # a steady cadence, whatever Redis took
                    await asyncio.sleep(max(0.0, now + POLL_S - loop.time()))
                continue
            if loop.time() - heard >= SILENCE_S:  # no tailer heard from: look ourselves
                heard = loop.time()
                await self._poll()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), LEASE_TRY_S)


class LogFan:
    """This replica's tails, its Redis connection for logs, and their counters."""

    def __init__(self, url: str | None, replica: str) -> None:
        self._url = url
        self.replica = replica.encode()[:12].ljust(12, b"-")
        self.status = "off" if not url else "down"
        self.counters = Counters()
        self._tails: dict[LogKey, Tail] = {}
        self._channels: dict[str, Tail] = {}
        self._client: Any = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._listener: asyncio.Task[None] | None = None
        self._subscribed: set[str] = set()

    async def start(self) -> None:
        if self._url:
            self._client = self._new_client()
            self._listener = asyncio.create_task(self._listen(), name="logfan-listen")

    async def close(self) -> None:
        tails = list(self._tails.values())
        for tail in tails:
            if tail.task is not None:
                tail.task.cancel()
        pending = [t.task for t in tails if t.task is not None]
        if self._listener is not None:
            self._listener.cancel()
            pending.append(self._listener)
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for tail in tails:
            if tail.leader:
                await self._release(tail.key)
        self._tails.clear()
        self._channels.clear()
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()

    def health(self) -> dict[str, Any]:
        return {
            "redis": self.status,
            "streams": len(self._tails),
            "followers": sum(t.followers for t in self._tails.values()),
            "tailing": sum(1 for t in self._tails.values() if t.leader),
            **asdict(self.counters),
        }

    # -- followers --------------------------------------------------------------------------
    async def join(self, key: LogKey) -> Tail:
        """The replica's tail of ``key`` (created for its first follower); ``leave`` it after."""
        tail = self._tails.get(key)
        if tail is None:
            start = await asyncio.to_thread(file_size, key.path)
            tail = self._tails.get(key)  # another follower may have made it meanwhile
            if tail is None:
                tail = Tail(self, key, start)
                self._tails[key] = tail
                self._channels[key.channel] = tail
                tail.task = asyncio.create_task(tail.run(), name=f"logtail-{key.channel}")
        tail.followers += 1
        self.counters.follows += 1
        return tail

    def leave(self, tail: Tail) -> None:
        tail.followers -= 1
        if tail.followers > 0 or self._tails.get(tail.key) is not tail:
            return
        del self._tails[tail.key]
        self._channels.pop(tail.key.channel, None)
        if tail.task is not None:
            tail.task.cancel()
        if tail.leader:
            tail.leader = False
            self._spawn(self._release(tail.key))

    # -- Redis ------------------------------------------------------------------------------
    def _new_client(self) -> Any:
        import redis.asyncio as redis

        return redis.Redis.from_url(self._url or "", socket_connect_timeout=1.0, socket_timeout=2.0)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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

    async def _release(self, key: LogKey) -> None:
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
                for tail in self._tails.values():
                    tail.wake.set()
                idle = 0.0
                while True:
                    if self.status != "up":  # a command failed: start afresh
                        raise ConnectionError("a log fan-out command failed")
                    want = set(self._channels)
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
                        self._deliver(name, msg["data"])
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

    def _deliver(self, channel: str, data: bytes) -> None:
        tail = self._channels.get(channel)
        if tail is None or len(data) < 20 or data[8:20] == self.replica:
            return
        if len(data) > 20:
            self.counters.received += 1
        payload = data[20:]
        if tail.inbox_bytes + len(payload) > INBOX:
            self.counters.dropped += 1  # the tail is behind: a later chunk shows the gap
            return
        tail.inbox.append((int.from_bytes(data[:8], "big"), payload))
        tail.inbox_bytes += len(payload)
        tail.wake.set()
