"""Attach a replica to its cluster: the leader lock and the Redis wake-ups.

``attach(database_url, redis_url, reconciler, backend)`` is called by ``create_app``'s lifespan. With SQLite and no Redis
(embedded) both are no-ops: one replica that always leads, wake-ups in-process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hai_server.backends.base import Backend
from hai_server.cluster.leader import PgLeader, SoloLeader
from hai_server.cluster.notify import Notifier
from hai_server.reconciler.loop import Reconciler


@dataclass
class Cluster:
    leader: PgLeader | SoloLeader
    notifier: Notifier

    @property
    def wake(self) -> Callable[[], None]:
        return self.notifier.wake_everyone

    async def close(self) -> None:
        await self.notifier.close()
        await self.leader.release()

    def health(self) -> dict[str, object]:
        return {
            "redis": self.notifier.status,
            "leader": self.leader.is_leader,
            "leader_lock": self.leader.kind,
            "replica": self.notifier.replica,
        }


async def attach(
    database_url: str, redis_url: str | None, reconciler: Reconciler, backend: Backend
) -> Cluster:
    async def adopt() -> None:
        # the previous leader may have started ranks: read the backend's state afresh
        await backend.close()
        await backend.open()

    leader: PgLeader | SoloLeader = (
        PgLeader(database_url, adopt) if database_url.startswith("postgresql") else SoloLeader()
    )
    reconciler.gate = leader.check
    notifier = Notifier(redis_url, reconciler.wake)
    await notifier.start()
    return Cluster(leader, notifier)
