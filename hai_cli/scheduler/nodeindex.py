"""An index of the snapshot's nodes, memoized on the identity of the (immutable) node tuple.

The reconciler builds a new tuple every tick, so it never hits the memo; the simulator passes
the same tuple to thousands of plan() calls and saves the work. The memo holds one entry and
only ever for a tuple of frozen nodes, so it cannot change what plan() returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hai_cli.scheduler.model import Node


@dataclass(frozen=True, slots=True)
class NodeIndex:
    by_name: Mapping[str, Node]
    usable: frozenset[str]  # healthy, not cordoned
    size: Mapping[str, int]  # group -> all its nodes, usable or not
    usable_by_group: Mapping[str, tuple[tuple[str, str], ...]]  # group -> (name, zone), by name


_memo: list[tuple[tuple[Node, ...], NodeIndex]] = []


def node_index(nodes: tuple[Node, ...] | list[Node]) -> NodeIndex:
    if type(nodes) is tuple and _memo and _memo[0][0] is nodes:
        return _memo[0][1]
    index = _build(nodes)
    if type(nodes) is tuple:
        _memo[:] = [(nodes, index)]
    return index


def _build(nodes: tuple[Node, ...] | list[Node]) -> NodeIndex:
    by_name = {n.name: n for n in nodes}
    if len(by_name) != len(nodes):  # a repeated name: keep one, whatever the input order
        by_name = {n.name: n for n in sorted(nodes, key=_node_key)}
    size: dict[str, int] = {}
    usable_lists: dict[str, list[tuple[str, str]]] = {}
    for name in sorted(by_name):
        n = by_name[name]
        size[n.group] = size.get(n.group, 0) + 1
        if n.usable:
            usable_lists.setdefault(n.group, []).append((name, n.zone))
    return NodeIndex(
        by_name=by_name,
        usable=frozenset(name for name, n in by_name.items() if n.usable),
        size=size,
        usable_by_group={g: tuple(v) for g, v in usable_lists.items()},
    )


def _node_key(n: Node) -> tuple[str, str, str, int, bool, bool]:
    return (n.name, n.group, n.zone, n.gpus, n.healthy, n.cordoned)
