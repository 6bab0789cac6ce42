"""The log fan-out hub in-process: two ``LogFan`` (two replicas) on one real Redis, a real file.

Faster and sharper than the server tests: a slow follower falls behind the bounded buffer
and catches up from the file, a chunk heard out of order is trimmed or its gap read from the
file, a tailer that goes away hands over to the other replica, and without Redis one poll
serves every follower of a replica.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from hai_server.cluster.logbus import bus_factory
from hai_server.services import logfan
from hai_server.services.logfan import LogFan, LogKey


async def _collect(fan: LogFan, key: LogKey, size: int, timeout: float = 20) -> bytes:
    """Follow ``key`` through ``fan`` until ``size`` bytes arrived."""
    tail = await fan.join(key)
    got = b""
    try:
        async with asyncio.timeout(timeout):
            while len(got) < size:
                got += await tail.read(len(got), 0.2)
    finally:
        fan.leave(tail)
    return got


def _lines(first: int, count: int) -> list[bytes]:
    return [f"line {i} {'x' * (i % 50)}\n".encode() for i in range(first, first + count)]


async def _writer(path: Path, lines: list[bytes], pause: float) -> bytes:
    with open(path, "ab") as fh:
        for line in lines:
            fh.write(line)
            fh.flush()
            await asyncio.sleep(pause)
    return b"".join(lines)


async def _up(*fans: LogFan) -> None:
    async with asyncio.timeout(10):
        while any(f.status != "up" for f in fans):
            await asyncio.sleep(0.02)


def test_two_replicas_one_tailer_every_byte_once(redis_url: str, tmp_path: Path) -> None:
    async def main() -> None:
        a, b = (
            LogFan(bus_factory(redis_url, "replica-a")),
            LogFan(bus_factory(redis_url, "replica-b")),
        )
        await a.start()
        await b.start()
        try:
            await _up(a, b)
            path = tmp_path / "rank-0.log"
            key = LogKey(1, 0, 0, str(path))
            before, during = _lines(0, 5), [*_lines(5, 150), b"y" * 70000 + b"\n"]
            expected = b"".join(before + during)
            await _writer(path, before, 0)  # some log before anyone follows
            readers = [asyncio.create_task(_collect(f, key, len(expected))) for f in (a, b, a, b)]
            await _writer(path, during, 0.005)
            results = await asyncio.gather(*readers)
            assert all(r == expected for r in results)
            assert a.counters.leases + b.counters.leases == 1
            tailer, other = (a, b) if a.counters.leases else (b, a)
            assert tailer.counters.published > 0 and other.counters.received > 0
            # it listened (polling only until Redis confirmed its subscription)
            assert other.counters.tail_polls <= 8, other.counters
        finally:
            await a.close()
            await b.close()

    asyncio.run(main())


def test_tailer_leaves_and_the_other_replica_takes_over(redis_url: str, tmp_path: Path) -> None:
    async def main() -> None:
        a, b = (
            LogFan(bus_factory(redis_url, "replica-a")),
            LogFan(bus_factory(redis_url, "replica-b")),
        )
        await a.start()
        await b.start()
        try:
            await _up(a, b)
            path = tmp_path / "rank-0.log"
            key = LogKey(2, 0, 0, str(path))
            ta = await a.join(key)
            async with asyncio.timeout(5):
                while not ta.leader:
                    await asyncio.sleep(0.02)
            follower = asyncio.create_task(_collect(b, key, 10**9, timeout=8))
            first = await _writer(path, _lines(0, 40), 0.01)
            a.leave(ta)  # the tailer's last follower goes: its lease is released
            second = await _writer(path, _lines(40, 80), 0.02)
            async with asyncio.timeout(5):  # B takes the lease over
                while b.counters.leases < 1:
                    await asyncio.sleep(0.02)
            assert b.counters.leases == 1
            tb = b._tails[key]
            async with asyncio.timeout(5):  # B's tailer reads on to the file's end
                while tb.end < len(first + second):
                    await asyncio.sleep(0.02)
            assert tb.end == len(first + second)
            assert bytes(tb.buf[-len(second) :]) == second
            follower.cancel()
        finally:
            await a.close()
            await b.close()

    asyncio.run(main())


def test_slow_follower_catches_up_from_the_file(tmp_path: Path) -> None:
    async def main() -> None:
        fan = LogFan()
        await fan.start()
        path = tmp_path / "rank-0.log"
        key = LogKey(3, 0, 0, str(path))
        tail = await fan.join(key)
        data = b"".join(f"{i:08d}\n".encode() for i in range(400_000))  # 3.6 MB > BUFFER
        path.write_bytes(data)
        async with asyncio.timeout(10):
            while tail.end < len(data):
                await asyncio.sleep(0.02)
        assert len(tail.buf) <= logfan.BUFFER and tail.start > 0  # bounded, front dropped
        got = b""
        while len(got) < len(data):
            got += await tail.read(len(got), 1.0)
        assert got == data
        assert fan.counters.catchup_reads >= 1
        fan.leave(tail)
        await fan.close()

    asyncio.run(main())


def test_without_redis_one_poll_serves_every_follower(tmp_path: Path) -> None:
    async def main() -> None:
        fan = LogFan()
        await fan.start()
        path = tmp_path / "rank-0.log"
        key = LogKey(4, 0, 0, str(path))
        path.write_bytes(b"")
        readers = [asyncio.create_task(_collect(fan, key, 40 * 9)) for _ in range(20)]
        async with asyncio.timeout(5):  # every follower has joined the one tail
            while fan.health()["followers"] < 20:
                await asyncio.sleep(0.01)
        with open(path, "ab") as fh:
            for i in range(40):
                fh.write(f"line {i:03d}\n".encode())
                fh.flush()
                await asyncio.sleep(0.02)
        results = await asyncio.gather(*readers)
        assert all(r == path.read_bytes() for r in results)
        # 20 followers polling each would read the file ~20 x 20 times a second
        assert fan.counters.tail_polls < 40, fan.counters
        assert fan.health()["streams"] == 0
        await fan.close()

    asyncio.run(main())


def test_chunks_out_of_order_are_trimmed_or_filled_from_the_file(tmp_path: Path) -> None:
    """What a subscriber does with chunks heard late, twice, or after a gap (no loop runs)."""

    async def main() -> None:
        path = tmp_path / "rank-0.log"
        data = bytes(range(256)) * (3 * logfan.BUFFER // 256)  # 3 MiB
        path.write_bytes(data)
        tail = logfan.Tail(LogFan(), LogKey(5, 0, 0, str(path)), 0)
        await tail._take(0, data[:100])
        await tail._take(50, data[50:150])  # half of it heard before: trimmed
        await tail._take(0, data[:120])  # all of it heard before: ignored
        assert bytes(tail.buf) == data[:150]
        await tail._take(1000, data[1000:1100])  # a gap: 150..1000 read from the file
        assert bytes(tail.buf) == data[:1100] and tail.fan.counters.gap_fills == 1
        far = len(data) - 100  # further than the buffer holds: start again from there
        await tail._take(far, data[far:])
        assert tail.start == far and bytes(tail.buf) == data[far:]
        got = b""
        while len(got) < len(data):  # a follower from 0 reads the rest from the file
            got += await tail.read(len(got), 0)
        assert got == data

    asyncio.run(main())
