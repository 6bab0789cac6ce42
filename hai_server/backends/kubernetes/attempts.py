"""Bookkeeping of one attempt and the assembly of its observation (pure, no I/O)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from hai_server.backends.base import (
    AttemptObservation,
    BackendError,
    NodeState,
    RankObservation,
    RankPulse,
)
from hai_server.backends.kubernetes import render as r
from hai_server.backends.kubernetes.config import KubernetesConfig
from hai_server.backends.kubernetes.control import ControlFiles
from hai_server.backends.kubernetes.status import START_FAILED, Since, pod_node, rank_from_pod

STARTUP_GRACE_S = 30.0  # a just-created pod missing from the cache is "pending", not "lost"


@dataclass
class AttemptRecord:
    task_id: int
    attempt: int
    base: str  # object name prefix: pods {base}-{rank}, service {base}-0, configmap {base}-env
    nodes: dict[int, str]  # rank -> node
    started_at: float
    terminating: bool = False
    last_seen: dict[int, dict] = field(default_factory=dict)  # rank -> last pod state

    def pod(self, rank: int) -> str:
        return f"{self.base}-{rank}"


def is_ours(obj: dict, installation: str = "default") -> bool:
    """A rank pod of this installation (the API server may ignore label selectors: check
    again). Pods of another installation sharing the namespace are never touched."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return (
        labels.get(r.MANAGED_BY) == r.MANAGER
        and labels.get(r.L_INSTALLATION) == installation
        and r.L_TASK in labels
        and r.L_RANK in labels
    )


def key_rank(pod: dict) -> tuple[tuple[int, int], int] | None:
    labels = pod["metadata"].get("labels") or {}
    try:
        return (int(labels[r.L_TASK]), int(labels[r.L_ATTEMPT])), int(labels[r.L_RANK])
    except (KeyError, ValueError):
        return None


def adopt(key: tuple[int, int], ranks: dict[int, dict]) -> AttemptRecord:
    """Rebuild bookkeeping from the pods of an attempt started before a server restart."""
    any_pod = next(iter(ranks.values()))
    labels = any_pod["metadata"].get("labels") or {}
    try:
        world = int(labels.get(r.L_WORLD, "0"))
    except ValueError:
        world = 0
    nodes = {rank: pod_node(pod) for rank, pod in ranks.items()}
    for rank in range(world):
        nodes.setdefault(rank, "")
    base = any_pod["metadata"]["name"].rsplit("-", 1)[0]
    return AttemptRecord(key[0], key[1], base, nodes, started_at=0.0, last_seen=dict(ranks))


def _last_exit_code(pod: dict | None) -> int | None:
    if pod is None:
        return None
    statuses = (pod.get("status") or {}).get("containerStatuses") or [{}]
    term = (statuses[0].get("state") or {}).get("terminated") or {}
    return int(term["exitCode"]) if "exitCode" in term else None


def observe_attempt(
    att: AttemptRecord,
    live: dict[int, dict],
    files: ControlFiles,
    *,
    node_info: Callable[[str], NodeState | None],
    node_known: bool,
    config: KubernetesConfig,
    now: float,
    since: Since,
) -> AttemptObservation:
    """The observation of one attempt from its live pods and its control files."""
    ranks: list[RankObservation] = []
    for rank, node in sorted(att.nodes.items()):
        pod = live.get(rank)
        if pod is None and not att.terminating and now - att.started_at < STARTUP_GRACE_S:
            ranks.append(RankObservation(rank, node, "pending", None, "pod not visible yet"))
            continue
        fallback = files.exit_codes.get(rank)
        if pod is None:
            seen = _last_exit_code(att.last_seen.get(rank))
            fallback = seen if seen is not None else fallback
        ranks.append(
            rank_from_pod(
                pod,
                rank=rank,
                node=node,
                node_info=node_info(node) if node_known else None,
                node_known=node_known,
                terminating=att.terminating,
                fallback_exit=fallback,
                config=config,
                now=now,
                since=since,
            )
        )
    if files.unsignalled:  # exited before the stop reached them: finished, not saved
        ranks = [
            replace(o, before_stop=True)
            if o.state == "exited" and o.rank in files.unsignalled
            else o
            for o in ranks
        ]
    errors: tuple[str, ...] = ()
    if not att.terminating:
        errors = tuple(
            dict.fromkeys(
                o.message
                for o in ranks
                if o.message
                and (o.state == "lost" or (o.state == "exited" and o.exit_code == START_FAILED))
            )
        )
    return AttemptObservation(
        task_id=att.task_id,
        attempt=att.attempt,
        ranks=tuple(ranks),
        suspend_acked=files.acked,
        whole_life_state=files.whole_life_state,
        last_checkpoint_at=files.last_checkpoint_at,
        errors=errors,
        listening=files.listening,
        pulses=tuple(RankPulse(r, *files.pulses[r]) for r in sorted(files.pulses)),
        watchdog_s=files.watchdog_s,
        priority=files.priority,
    )


def raise_first(results: list, best_effort: bool) -> None:
    """Raise the first error of a cleanup's ``results`` (only log it when ``best_effort``)."""
    errors = [x for x in results if isinstance(x, BaseException)]
    if not errors:
        return
    if best_effort:
        logging.getLogger("hai_server.backends.kubernetes.backend").warning(
            "cleanup after a failed start: %s", errors[0]
        )
        return
    err = errors[0]
    raise err if isinstance(err, BackendError) else BackendError(str(err))
