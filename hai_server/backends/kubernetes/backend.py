"""``KubernetesBackend``: ranks as pods, decided by the scheduler, made so by the cluster.

* inventory: Nodes carrying the group label, from a watched cache (never polled);
* start: ConfigMap (owner) -> headless Service -> one Pod per rank, created in parallel;
* notify_suspend: one file write on shared storage, seen by every rank (no restart, no signal);
* terminate: delete the pods with a short grace (the kubelet sends SIGTERM, then SIGKILL);
* observe: rank states from the watched Pods plus the control files on shared storage;
* forget: delete every object of the attempt (logs and control files stay).

Blocking client calls run in a small thread pool; the watches run in daemon threads and wake
the reconciler through ``loop.call_soon_threadsafe`` (coalesced: one wake-up per burst).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from hai_server.backends.base import (
    AttemptObservation,
    AttemptSpec,
    Backend,
    BackendError,
    Capabilities,
    NodeState,
)
from hai_server.backends.kubernetes import control
from hai_server.backends.kubernetes import jupyter_render as jr
from hai_server.backends.kubernetes import render as r
from hai_server.backends.kubernetes.attempts import (
    AttemptRecord,
    adopt,
    is_ours,
    key_rank,
    observe_attempt,
    raise_first,
)
from hai_server.backends.kubernetes.client import KubeClient, load_configuration
from hai_server.backends.kubernetes.config import KubernetesConfig
from hai_server.backends.kubernetes.status import node_state, parse_time
from hai_server.backends.kubernetes.watch import Watcher

log = logging.getLogger(__name__)


class KubernetesBackend(Backend):
    """Runs each rank as a Pod pinned to its node. See the module docstring."""

    name = "kubernetes"
    capabilities = Capabilities(multi_node=True, gpus=True, adopt_after_restart=True)

    def __init__(self, config: KubernetesConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self._wakeup: Callable[[], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poke_pending = threading.Event()
        self._client: KubeClient | None = None
        self._pool: ThreadPoolExecutor | None = None
        self.nodes: Watcher | None = None
        self.pods: Watcher | None = None
        self._attempts: dict[tuple[int, int], AttemptRecord] = {}
        self._jupyter: dict[tuple[int, int], str] = {}  # Jupyter containers -> their user
        self._forgotten: set[tuple[int, int]] = set()
        self._node_view: dict[str, tuple] = {}
        self._vanished: dict[str, tuple[NodeState, float]] = {}
        self._seen_nodes: dict[str, float] = {}
        self._seen_pods: dict[str, float] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    def set_wakeup(self, wakeup: Callable[[], None]) -> None:
        self._wakeup = wakeup

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        configuration = load_configuration(self.config)  # BackendError: bad kubeconfig
        self._client = KubeClient(self.config, configuration)
        self._pool = ThreadPoolExecutor(self.config.api_concurrency, thread_name_prefix="hai-k8s")
        self.nodes = Watcher(self._client, "Node", on_event=self._on_node, clock=self.clock)
        self.pods = Watcher(
            self._client,
            "Pod",
            selector=r.installation_selector(self.config.installation),
            accept=functools.partial(is_ours, installation=self.config.installation),
            on_event=self._on_pod,
            clock=self.clock,
        )
        self.nodes.start()
        self.pods.start()
        timeout = self.config.initial_sync_timeout_s
        ok = await asyncio.to_thread(
            lambda: self.nodes.synced.wait(timeout) and self.pods.synced.wait(timeout)
        )
        if not ok:
            log.warning(
                "Kubernetes backend: no answer from %s yet (%s); retrying in the background",
                configuration.host,
                self.nodes.error or self.pods.error or "timeout",
            )

    async def close(self) -> None:
        for watcher in (self.nodes, self.pods):
            if watcher is not None:
                await asyncio.to_thread(watcher.stop)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self._client is not None:
            self._client.close()

    # ------------------------------------------------------------------ events -> wake-ups
    def _poke(self) -> None:
        if self._wakeup is None or self._loop is None or self._poke_pending.is_set():
            return
        self._poke_pending.set()
        try:
            self._loop.call_soon_threadsafe(self._fire)
        except RuntimeError:  # loop closed
            self._poke_pending.clear()

    def _fire(self) -> None:
        self._poke_pending.clear()
        if self._wakeup is not None:
            try:
                self._wakeup()
            except Exception:  # never let the hook break the watch
                log.exception("wake-up hook failed")

    def _on_node(self, etype: str, obj: dict) -> None:
        name = obj["metadata"]["name"]
        state = node_state(obj, self.config, self.clock(), self._node_since)
        if etype == "DELETED":
            if state is not None:
                gone = NodeState(
                    name,
                    state.group,
                    state.zone,
                    state.gpus,
                    healthy=False,
                    message="node no longer exists in the cluster",
                )
                self._vanished[name] = (gone, self.clock())
            self._node_view.pop(name, None)
            self._poke()
            return
        self._vanished.pop(name, None)
        view = (
            None
            if state is None
            else (state.group, state.zone, state.gpus, state.healthy, state.cordoned)
        )
        if self._node_view.get(name) != view:
            self._node_view[name] = view
            self._poke()

    def _on_pod(self, etype: str, obj: dict) -> None:
        found = key_rank(obj)
        if found is None:
            return
        key, rank = found
        att = self._attempts.get(key)
        if att is not None:
            att.last_seen[rank] = obj
        self._poke()

    def _node_since(self, key: str, iso: str | None) -> float:
        return parse_time(iso) or self._seen_nodes.setdefault(key, self.clock())

    def _pod_since(self, key: str, iso: str | None) -> float:
        return parse_time(iso) or self._seen_pods.setdefault(key, self.clock())

    # ------------------------------------------------------------------ helpers
    async def _run(self, fn: Callable, *args: object, **kwargs: object) -> object:
        if self._pool is None or self._client is None:
            raise BackendError("the Kubernetes backend is not open", retryable=True)
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, functools.partial(fn, *args, **kwargs)
        )

    def _fresh(self, watcher: Watcher | None) -> Watcher:
        if watcher is None:
            raise BackendError("the Kubernetes backend is not open", retryable=True)
        if not watcher.synced.is_set() or watcher.stale_for() > self.config.stale_after_s:
            raise watcher.health_error()
        return watcher

    def _node_info(self, name: str) -> NodeState | None:
        assert self.nodes is not None
        obj = self.nodes.get(name)
        if obj is None:
            return None
        return node_state(obj, self.config, self.clock(), self._node_since) or NodeState(name, "")

    # ------------------------------------------------------------------ contract
    async def inventory(self) -> list[NodeState]:
        nodes = self._fresh(self.nodes)
        now = self.clock()
        used: dict[str, float] = {}

        def since(key: str, iso: str | None) -> float:
            used[key] = self._node_since(key, iso)
            return used[key]

        result = []
        for obj in nodes.snapshot().values():
            state = node_state(obj, self.config, now, since)
            if state is not None:
                result.append(state)
        self._seen_nodes = {k: v for k, v in self._seen_nodes.items() if k in used}
        live = {s.name for s in result}
        for name, (state, when) in list(self._vanished.items()):
            if now - when > self.config.missing_node_forget_s:
                self._vanished.pop(name, None)
            elif name not in live:
                result.append(state)
        return sorted(result, key=lambda s: s.name)

    async def start(self, spec: AttemptSpec) -> None:
        objs = r.render_attempt(spec, self.config)  # BackendError on bad input
        client = self._client
        if client is None:
            raise BackendError("the Kubernetes backend is not open", retryable=True)
        nodes = self._fresh(self.nodes)
        missing = sorted({rs.node for rs in spec.ranks if nodes.get(rs.node) is None})
        if missing:
            raise BackendError(f"node(s) {', '.join(missing)} no longer exist in the cluster")
        run_dir = self.config.attempt_run_dir(spec.task_id, spec.attempt)
        try:
            await self._run(control.prepare, run_dir, spec.log_dir, len(spec.ranks))
        except OSError as exc:
            raise BackendError(
                f"cannot prepare {run_dir} on the shared storage: {exc}; is "
                f"{self.config.shared.server_path} mounted on the server?"
            ) from exc
        key = spec.key
        base = r.base_name(spec.task_id, spec.attempt, spec.user, self.config.installation)
        att = self._attempts.get(key) or AttemptRecord(
            spec.task_id, spec.attempt, base, {rs.rank: rs.node for rs in spec.ranks}, self.clock()
        )
        self._attempts[key] = att
        self._forgotten.discard(key)
        jr.note_spec(self._jupyter, spec)
        try:
            owner = await self._run(client.create, objs.configmap)
        except BackendError:
            self._attempts.pop(key, None)
            raise
        assert isinstance(owner, dict)
        has_uid = bool((owner.get("metadata") or {}).get("uid"))
        rest = [r.with_owner(o, owner) if has_uid else o for o in objs.all()[1:]]
        results = await asyncio.gather(
            *(self._run(client.create, o) for o in rest), return_exceptions=True
        )
        errors: list[str] = []
        for obj, res in zip(rest, results, strict=True):
            if isinstance(res, BaseException):
                errors.append(f"{obj['kind']} {obj['metadata']['name']}: {res}")
            elif obj["kind"] == "Pod" and isinstance(res, dict):
                if (res.get("metadata") or {}).get("deletionTimestamp"):
                    errors.append(
                        f"pod {obj['metadata']['name']} of an earlier try is still terminating"
                    )
                assert self.pods is not None
                self.pods.put(res)
        if errors:
            failures = [x for x in results if isinstance(x, BaseException)]
            retryable = all(not isinstance(x, BackendError) or x.retryable for x in failures)
            first = next((x for x in failures if isinstance(x, BackendError)), None)
            self._attempts.pop(key, None)
            self._forgotten.add(key)
            # nothing of a refused start stays behind: pods, the Service and the ConfigMap
            await self._delete_all(att, grace_s=0, best_effort=True)
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise BackendError(
                f"could not create {errors[0]}{more}",
                retryable=retryable,
                kind=first.kind if first is not None else "other",
            )

    async def notify_suspend(self, task_id: int, attempt: int, deadline: float) -> None:
        run_dir = self.config.attempt_run_dir(task_id, attempt)
        try:
            await self._run(control.give_notice, run_dir, deadline)
        except OSError as exc:
            raise BackendError(
                f"cannot write the suspend notice in {run_dir}: {exc}; is the shared storage "
                f"{self.config.shared.server_path} mounted on the server?"
            ) from exc

    async def terminate(self, task_id: int, attempt: int, grace_s: float) -> None:
        att = self._known((task_id, attempt))
        if att is None:
            return
        att.terminating = True
        await self._delete_pods(att, max(1, math.ceil(grace_s)), best_effort=False)

    async def observe(self) -> list[AttemptObservation]:
        pods = self._fresh(self.pods)
        node_known = (
            self.nodes is not None
            and self.nodes.synced.is_set()
            and (self.nodes.stale_for() <= self.config.stale_after_s)
        )
        by_attempt: dict[tuple[int, int], dict[int, dict]] = {}
        for pod in pods.snapshot().values():
            found = key_rank(pod)
            if found is not None:
                by_attempt.setdefault(found[0], {})[found[1]] = pod
                jr.note_container(self._jupyter, found[0], pod)  # adopted ones too
        for key, ranks in by_attempt.items():
            if key not in self._attempts and key not in self._forgotten:
                self._adopt(key, ranks)
        self._forgotten.intersection_update(by_attempt)  # nothing left to keep out
        attempts = list(self._attempts.values())
        reads = [
            (
                self.config.attempt_run_dir(a.task_id, a.attempt),
                [k for k in a.nodes if k not in by_attempt.get((a.task_id, a.attempt), {})],
                list(a.nodes) if a.terminating else [],  # only a stop needs the markers
            )
            for a in attempts
        ]
        files = await asyncio.to_thread(
            lambda: [control.read(d, gone, marked) for d, gone, marked in reads]
        )
        now = self.clock()
        used: dict[str, float] = {}

        def since(key: str, iso: str | None) -> float:
            used[key] = self._pod_since(key, iso)
            return used[key]

        result = []
        for att, cf in zip(attempts, files, strict=True):
            result.append(
                observe_attempt(
                    att,
                    by_attempt.get((att.task_id, att.attempt), {}),
                    cf,
                    node_info=self._node_info,
                    node_known=node_known,
                    config=self.config,
                    now=now,
                    since=since,
                )
            )
        self._seen_pods = {k: v for k, v in self._seen_pods.items() if k in used}
        return [jr.with_endpoint(o, self._jupyter.get(o.key), self.config) for o in result]

    async def forget(self, task_id: int, attempt: int) -> None:
        key = (task_id, attempt)
        att = self._known(key)
        self._forgotten.add(key)
        if att is None:
            return
        await self._delete_all(att, grace_s=self.config.pod_delete_grace_s, best_effort=False)
        self._attempts.pop(key, None)

    # ------------------------------------------------------------------ extras (not in the contract)
    async def pod_log(
        self, task_id: int, attempt: int, rank: int, *, tail_lines: int | None = 1000
    ) -> str:
        """The container log of one rank, while its pod exists (fallback for the log API)."""
        att = self._known((task_id, attempt))
        if att is None:
            raise BackendError(f"no pods of task {task_id} attempt {attempt}", retryable=False)
        if self._client is None:
            raise BackendError("the Kubernetes backend is not open")
        text = await self._run(self._client.pod_log, att.pod(rank), tail_lines, 4 << 20)
        return str(text)

    # ------------------------------------------------------------------ internals
    def _known(self, key: tuple[int, int]) -> AttemptRecord | None:
        att = self._attempts.get(key)
        if att is not None or self.pods is None:
            return att
        ranks = {}
        for pod in self.pods.snapshot().values():
            found = key_rank(pod)
            if found is not None and found[0] == key:
                ranks[found[1]] = pod
        return self._adopt(key, ranks) if ranks else None

    def _adopt(self, key: tuple[int, int], ranks: dict[int, dict]) -> AttemptRecord:
        att = adopt(key, ranks)
        self._attempts[key] = att
        return att

    async def _delete_pods(self, att: AttemptRecord, grace_s: int, *, best_effort: bool) -> None:
        assert self._client is not None
        names = [att.pod(rank) for rank in sorted(att.nodes)]
        results = await asyncio.gather(
            *(self._run(self._client.delete, "Pod", n, grace_s) for n in names),
            return_exceptions=True,
        )
        raise_first(results, best_effort)

    async def _delete_all(self, att: AttemptRecord, grace_s: int, *, best_effort: bool) -> None:
        assert self._client is not None
        await self._delete_pods(att, grace_s, best_effort=best_effort)
        lab = jr.kinds_of(self._jupyter, att.task_id, att.attempt)
        results = await asyncio.gather(
            self._run(self._client.delete, "Service", f"{att.base}-0"),
            self._run(self._client.delete, "ConfigMap", f"{att.base}-env"),
            *(self._run(self._client.delete, k, f"{att.base}-lab") for k in lab),
            return_exceptions=True,
        )
        raise_first(results, best_effort)
