"""Quota of Jupyter containers, ``jupyter:{group}``: memory GiB, CPUs and count per user.

Stored as one number in the original's encoding ``MMMMCCCQQ`` (memory GiB in the first four
digits, CPUs in the next three, containers in the last two: ``12800810`` is 128 GiB, 8 CPUs,
10 containers), so quotas loaded from the original's init.sql keep their meaning; the admin
CLI takes explicit fields and encodes them. Pure, standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

PREFIX = "jupyter:"
MAX_MEMORY, MAX_CPUS, MAX_COUNT = 9999, 999, 99


@dataclass(frozen=True, slots=True)
class JupyterQuota:
    memory_gib: int
    cpus: int
    count: int

    def encode(self) -> int:
        return self.memory_gib * 100_000 + self.cpus * 100 + self.count

    def describe(self) -> str:
        return f"{self.memory_gib} GiB, {self.cpus} CPUs, {self.count} containers"


def resource(group: str) -> str:
    return f"{PREFIX}{group}"


def decode(value: int) -> JupyterQuota:
    """``MMMMCCCQQ`` -> the three limits. Raises ValueError for a negative or too long one."""
    if isinstance(value, bool) or not 0 <= value <= 999_999_999:
        raise ValueError(f"a Jupyter quota is MMMMCCCQQ (at most 9 digits), got {value!r}")
    return JupyterQuota(value // 100_000, (value // 100) % 1000, value % 100)


def make(memory_gib: int, cpus: int, count: int) -> JupyterQuota:
    for what, v, top in (("memory", memory_gib, MAX_MEMORY), ("cpus", cpus, MAX_CPUS),
                         ("count", count, MAX_COUNT)):  # fmt: skip
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= top:
            raise ValueError(f"Jupyter quota {what} must be a whole number 0-{top}, got {v!r}")
    return JupyterQuota(memory_gib, cpus, count)


def effective(
    rows: Mapping[str, int], user: str, user_groups: Iterable[str]
) -> JupyterQuota | None:
    """The quota that applies to ``user``: their own row, else the largest of their groups'
    rows (each limit on its own), else ``public``'s; None: no limit. ``rows``: principal ->
    encoded value, for one group's resource."""
    if user in rows:
        return decode(rows[user])
    found = [decode(rows[g]) for g in sorted(set(user_groups)) if g in rows]
    if found:
        return JupyterQuota(max(q.memory_gib for q in found), max(q.cpus for q in found),
                            max(q.count for q in found))  # fmt: skip
    if "public" in rows:
        return decode(rows["public"])
    return None


def refusal(
    quota: JupyterQuota | None,
    use: tuple[float, float, int],
    cpus: float,
    memory_gib: float,
    group: str,
) -> str | None:
    """Why a new container of ``cpus``/``memory_gib`` is over ``quota`` given the user's
    ``use`` (cpus, memory GiB, count) in ``group``; None when it fits."""
    if quota is None:
        return None
    used_cpus, used_mem, used_count = use
    if used_count + 1 > quota.count:
        return (f"quota jupyter:{group} allows {quota.count} container(s); you have "
                f"{used_count}")  # fmt: skip
    if used_mem + memory_gib > quota.memory_gib + 1e-9:
        return (f"quota jupyter:{group} allows {quota.memory_gib} GiB; you use {used_mem:g} GiB "
                f"and ask for {memory_gib:g} more")  # fmt: skip
    if used_cpus + cpus > quota.cpus + 1e-9:
        return (f"quota jupyter:{group} allows {quota.cpus} CPUs; you use {used_cpus:g} and ask "
                f"for {cpus:g} more")  # fmt: skip
    return None
