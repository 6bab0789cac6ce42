"""What the log fan-out and its bus share: a followed rank log's key and the counters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


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


class Bus(Protocol):
    """The cross-replica side of the fan-out (``hai_server.cluster.logbus.LogBus``)."""

    status: str  # "off" (no Redis), "up" or "down"

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    def hears(self, channel: str) -> bool: ...
    async def acquire(self, key: LogKey) -> bool: ...
    async def refresh(self, key: LogKey) -> bool: ...
    async def release(self, key: LogKey) -> None: ...
    async def publish(self, key: LogKey, offset: int, data: bytes) -> bool: ...


# (counters, the channels followed here, deliver(channel, offset, bytes), on_up) -> a bus
BusFactory = Callable[
    [Counters, Callable[[], set[str]], Callable[[str, int, bytes], None], Callable[[], None]],
    Bus,
]
