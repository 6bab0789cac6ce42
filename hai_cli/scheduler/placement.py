"""Zone-aware gang placement over a pool of whole nodes.

A task gets all its nodes or none. It goes into one zone when one zone can hold it, choosing
the smallest such zone (ties: zone name) so that large zones stay whole for large tasks. Only
when no single zone fits does it span zones, taking the largest zones first so it touches as
few zones as possible. Inside a zone, nodes are taken in name order.
"""

from __future__ import annotations

from collections.abc import Iterable


class Pool:
    """Nodes of one group that are available, kept by zone in reverse name order."""

    __slots__ = ("_zones", "count")

    def __init__(self, nodes: Iterable[tuple[str, str]] = ()) -> None:
        self._zones: dict[str, list[str]] = {}
        self.count = 0
        for name, zone in nodes:
            self._zones.setdefault(zone, []).append(name)
            self.count += 1
        for names in self._zones.values():
            names.sort(reverse=True)

    def add(self, name: str, zone: str) -> None:
        names = self._zones.setdefault(zone, [])
        names.append(name)
        names.sort(reverse=True)
        self.count += 1

    def names(self) -> list[str]:
        return sorted(n for names in self._zones.values() for n in names)

    def _take_from(self, zone: str, n: int) -> list[str]:
        names = self._zones[zone]
        taken = names[-n:] if n else []
        del names[len(names) - n :]
        taken.reverse()
        self.count -= n
        return taken

    def zone_plan(self, n: int) -> list[tuple[str, int]] | None:
        """Which zones ``n`` nodes would come from (and how many from each), or None."""
        if n > self.count:
            return None
        fitting = [(len(v), z) for z, v in self._zones.items() if len(v) >= n]
        if fitting:
            _, zone = min(fitting)
            return [(zone, n)]
        result: list[tuple[str, int]] = []
        left = n
        for size, zone in sorted(((len(v), z) for z, v in self._zones.items()), key=_big_first):
            if left == 0:
                break
            k = min(size, left)
            if k:
                result.append((zone, k))
                left -= k
        return result

    def take(self, n: int) -> tuple[str, ...] | None:
        """Remove and return ``n`` nodes placed by the zone rule, or None if too few."""
        plan = self.zone_plan(n)
        if plan is None:
            return None
        taken: list[str] = []
        for zone, k in plan:
            taken.extend(self._take_from(zone, k))
        return tuple(sorted(taken))

    def take_upto(self, n: int) -> tuple[str, ...]:
        """Remove and return min(n, count) nodes (placed by the zone rule)."""
        got = self.take(min(n, self.count))
        return got or ()


def _big_first(item: tuple[int, str]) -> tuple[int, str]:
    return (-item[0], item[1])
