"""The simulated cluster: ``--nodes N`` (one group) or a TOML file.

[groups.default]          # one table per node group
nodes = 64
zones = ["a", "b"]        # nodes split evenly (in order), or a table: {a = 40, b = 24}
gpus = 8

[[quotas]]                # optional quota rows, as the server stores them
principal = "public"
resource = "node-default-HIGH"
quota = 8

[user_groups]             # optional: user -> user groups (quota principals)
alice = ["vision"]

[scheduler]               # optional PolicyConfig fields, e.g. min_run_s = 300
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hai_cli.scheduler.model import Node, PolicyConfig, QuotaRow
from hai_cli.simulate.errors import InputError

POLICY_OWNED = {"preemption", "fair_share", "strict_fifo"}  # set by --policy


@dataclass(frozen=True)
class Cluster:
    nodes: tuple[Node, ...]
    quotas: tuple[QuotaRow, ...] = ()
    user_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    scheduler: Mapping[str, Any] = field(default_factory=dict)

    def group_sizes(self) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for n in self.nodes:
            sizes[n.group] = sizes.get(n.group, 0) + 1
        return sizes


def uniform_cluster(nodes: int, group: str = "default") -> Cluster:
    if nodes < 1:
        raise InputError(f"--nodes must be at least 1, got {nodes}")
    return Cluster(tuple(Node(f"{group}-{i:05d}", group) for i in range(nodes)))


def load_cluster(path: str) -> Cluster:
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise InputError(f"cannot read cluster file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    return parse_cluster(data, path)


def parse_cluster(data: Mapping[str, Any], source: str = "cluster") -> Cluster:
    groups = data.get("groups")
    if not isinstance(groups, dict) or not groups:
        raise InputError(f"{source}: needs at least one [groups.NAME] table with nodes = N")
    nodes: list[Node] = []
    for name in sorted(groups):
        spec = groups[name]
        if not isinstance(spec, dict):
            raise InputError(f"{source}: groups.{name} must be a table")
        count = spec.get("nodes")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise InputError(f"{source}: groups.{name}.nodes must be a whole number >= 1")
        gpus = spec.get("gpus", 0)
        if not isinstance(gpus, int) or gpus < 0:
            raise InputError(f"{source}: groups.{name}.gpus must be a whole number >= 0")
        for i, zone in enumerate(_zones(spec.get("zones"), count, f"{source}: groups.{name}")):
            nodes.append(Node(f"{name}-{i:05d}", name, zone, gpus))
    quotas = tuple(
        _quota(q, f"{source}: quotas[{i}]") for i, q in enumerate(data.get("quotas", []))
    )
    user_groups_raw = data.get("user_groups", {})
    if not isinstance(user_groups_raw, dict) or not all(
        isinstance(v, list) and all(isinstance(x, str) for x in v) for v in user_groups_raw.values()
    ):
        raise InputError(f"{source}: user_groups must map user names to lists of group names")
    user_groups = {u: tuple(v) for u, v in user_groups_raw.items()}
    scheduler = data.get("scheduler", {})
    known = {f.name for f in dataclasses.fields(PolicyConfig)} - POLICY_OWNED
    if not isinstance(scheduler, dict) or set(scheduler) - known:
        bad = sorted(set(scheduler) - known) if isinstance(scheduler, dict) else ["?"]
        raise InputError(f"{source}: unknown [scheduler] key(s) {', '.join(bad)}")
    return Cluster(tuple(nodes), quotas, user_groups, dict(scheduler))


def _zones(spec: Any, count: int, where: str) -> list[str]:
    if spec is None:
        return [""] * count
    if isinstance(spec, list) and spec and all(isinstance(z, str) for z in spec):
        per, extra = divmod(count, len(spec))
        out: list[str] = []
        for i, zone in enumerate(spec):
            out += [zone] * (per + (1 if i < extra else 0))
        return out
    if isinstance(spec, dict) and all(isinstance(v, int) and v >= 0 for v in spec.values()):
        if sum(spec.values()) != count:
            raise InputError(
                f"{where}.zones: the zone sizes add up to {sum(spec.values())}, not {count}"
            )
        return [zone for zone in sorted(spec) for _ in range(spec[zone])]
    raise InputError(f"{where}.zones must be a list of names or a table of name = node count")


def _quota(q: Any, where: str) -> QuotaRow:
    if not isinstance(q, dict):
        raise InputError(f"{where} must be a table")
    try:
        principal, resource, quota = str(q["principal"]), str(q["resource"]), q["quota"]
    except KeyError as exc:
        raise InputError(f"{where}: missing {exc.args[0]}") from None
    if not isinstance(quota, int) or quota < 0:
        raise InputError(f"{where}: quota must be a whole number >= 0")
    return QuotaRow(principal, resource, quota)
