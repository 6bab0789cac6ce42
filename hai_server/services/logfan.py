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

The Redis side (leases, publishing, the subscriber connection) is ``hai_server/cluster/logbus.py``,
given to ``LogFan`` as a factory (services do no Redis work themselves). Task state
(attempt changes, the end of the stream) is the caller's business (``LogService``); these
modules know files and Redis only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from dataclasses import asdict
from typing import Any

from hai_server.services.logtypes import Bus, BusFactory, Counters, LogKey

log = logging.getLogger("hai.logfan")

POLL_S = 0.05  # file poll of a tailing replica (and of every replica without Redis)
LEASE_REFRESH_S = 1.0
LEASE_TRY_S = 0.5  # a subscriber tries to take a free lease this often
HEARTBEAT_S = 1.0  # an idle tailer publishes the file size this often
SILENCE_S = 2.5  # a subscriber that heard nothing for this long reads the file once itself
RETRY_S = 1.0  # a failed tail loop restarts after this long
CHUNK = 1 << 20  # most bytes read from the file, published or handed out at once
BUFFER = 1 << 20  # recent bytes a replica keeps per followed log
INBOX = 1 << 20  # bytes heard and not yet taken per log; more is dropped (a gap: the file)


def read_file(path: str, offset: int, limit: int = CHUNK) -> bytes:
    """Bytes of ``path`` from ``offset`` (at most ``limit``); nothing if it does not exist."""
    try:
        with open(path, "rb") as fh:
            if offset >= os.fstat(fh.fileno()).st_size:
                return b""  # past the end (a seek there can fail: EINVAL past 2**44 on ext4)
            fh.seek(offset)
            return fh.read(limit)
    except FileNotFoundError:
        return b""


def file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


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
                self.leader = await fan.bus.acquire(self.key)
                next_refresh = now + LEASE_REFRESH_S
                if self.leader:
                    last_pub = 0.0  # announce the size at once
            if self.leader and now >= next_refresh:
                next_refresh = now + LEASE_REFRESH_S
                self.leader = await fan.bus.refresh(self.key)
            self.wake.clear()
            if self.leader:
                self.inbox.clear()  # what we publish ourselves, or an old tailer's: the file has it
                self.inbox_bytes = 0
            while self.inbox:
                offset, data = self.inbox.popleft()
                self.inbox_bytes -= len(data)
                heard = loop.time()
                await self._take(offset, data)
            if self.leader or not up or not fan.bus.hears(self.key.channel):
                # tailing, or no Redis, or not subscribed yet: the file is the only source
                offset = self.end
                data = await self._poll()
                if self.leader and (data or loop.time() - last_pub >= HEARTBEAT_S):
                    if await fan.bus.publish(self.key, offset, data):
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
    """This replica's tails (one per followed rank log), their Redis bus and counters."""

    def __init__(self, make_bus: BusFactory | None = None) -> None:
        self.counters = Counters()
        self._tails: dict[LogKey, Tail] = {}
        self._channels: dict[str, Tail] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.bus: Bus = (make_bus or _NoBus)(
            self.counters, lambda: set(self._channels), self._deliver, self._wake
        )

    @property
    def status(self) -> str:
        """The bus's: "off" (no Redis), "up" or "down"."""
        return self.bus.status

    async def start(self) -> None:
        await self.bus.start()

    async def close(self) -> None:
        tails = list(self._tails.values())
        for tail in tails:
            if tail.task is not None:
                tail.task.cancel()
        for tail in tails:
            if tail.task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await tail.task
            if tail.leader:
                await self.bus.release(tail.key)
        self._tails.clear()
        self._channels.clear()
        await self.bus.close()

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
            task = asyncio.create_task(self.bus.release(tail.key))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _deliver(self, channel: str, offset: int, payload: bytes) -> None:
        """A chunk another replica published (the bus's subscriber calls this)."""
        tail = self._channels.get(channel)
        if tail is None:
            return
        if tail.inbox_bytes + len(payload) > INBOX:
            self.counters.dropped += 1  # the tail is behind: a later chunk shows the gap
            return
        tail.inbox.append((offset, payload))
        tail.inbox_bytes += len(payload)
        tail.wake.set()

    def _wake(self) -> None:
        """Redis is (back) up: every tail looks for its lease now."""
        for tail in self._tails.values():
            tail.wake.set()


class _NoBus:
    """No Redis (embedded): every replica's tail polls the file itself."""

    status = "off"

    def __init__(self, *_: object) -> None:
        pass

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    def hears(self, channel: str) -> bool:
        return False

    async def acquire(self, key: LogKey) -> bool:
        return False

    async def refresh(self, key: LogKey) -> bool:
        return False

    async def release(self, key: LogKey) -> None:
        pass

    async def publish(self, key: LogKey, offset: int, data: bytes) -> bool:
        return False
