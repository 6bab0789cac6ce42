"""Redis wake-ups (notify.py) against a real Redis: keep-alive replies are not wake-ups."""

from __future__ import annotations

import asyncio

from hai_server.cluster.notify import Notifier


async def _scenario(url: str) -> tuple[int, int, int, int]:
    wakes_a: list[int] = []
    a = Notifier(url, lambda: wakes_a.append(1))
    b = Notifier(url, lambda: None)
    await a.start()
    await b.start()
    try:
        for _ in range(100):  # both subscribed
            if a.status == b.status == "up":
                break
            await asyncio.sleep(0.05)
        assert a.status == b.status == "up"
        idle_start = len(wakes_a)
        await asyncio.sleep(3.0)  # the subscriber pings Redis every idle second
        idle_wakes, idle_received = len(wakes_a) - idle_start, a.received
        b.wake_everyone()
        for _ in range(100):
            if a.received:
                break
            await asyncio.sleep(0.02)
        return idle_wakes, idle_received, a.received, len(wakes_a) - idle_start
    finally:
        await a.close()
        await b.close()


def test_idle_pings_do_not_wake_and_a_publish_does(redis_url: str) -> None:
    idle_wakes, idle_received, received, wakes = asyncio.run(_scenario(redis_url))
    assert (idle_wakes, idle_received) == (0, 0)
    assert received == 1 and wakes == 1
