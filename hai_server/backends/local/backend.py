"""Ranks as processes on this machine, spread over N virtual nodes.

Every attempt gets a directory ``{runs_dir}/{task}-{attempt}/`` holding ``spec.json``, the
shared control directory the task SDK reads (``control/``) and one status directory per rank
(``rank{R}/``: ``wrapper_pid``, ``pid``, ``exit_code``). Ranks run under the rank
wrapper ``hai_cli.rankrun`` (``python -S``: procs.wrapper_command) in their own sessions, so they outlive the server and a
restarted server adopts them again from these files.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hai_cli import control
from hai_cli.control import read_float, read_int, write_atomic
from hai_server.backends.base import (
    AttemptObservation,
    AttemptSpec,
    Backend,
    BackendError,
    Capabilities,
    NodeState,
    RankObservation,
    RankPulse,
)
from hai_server.backends.local.identity import (
    check_reachable,
    clean_env,
    hand_over,
    rank_identity,
    user_env,
)
from hai_server.backends.local.procs import HAI_CLI_ROOT, is_alive, wrapper_command

POLL_S = 0.02


@dataclass
class _Attempt:
    task_id: int
    attempt: int
    directory: Path
    ranks: list[tuple[int, str]]  # (rank, node)
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    endpoint: str = ""  # a Jupyter container's HOST:PORT (rank 0 serves it)

    @property
    def control(self) -> Path:
        return self.directory / "control"

    def rank_dir(self, rank: int) -> Path:
        return self.directory / f"rank{rank}"


class LocalBackend(Backend):
    name = "local"
    capabilities = Capabilities(multi_node=True, gpus=True, adopt_after_restart=True)

    def __init__(
        self,
        runs_dir: Path,
        nodes: list[NodeState],
        *,
        python: str = sys.executable,
        base_env: dict[str, str] | None = None,
        heartbeat_s: float = 5.0,
    ) -> None:
        self._heartbeat_s = heartbeat_s
        self._runs = runs_dir
        self._nodes = nodes
        self._python = python
        self._base_env = base_env if base_env is not None else clean_env(os.environ)
        self._attempts: dict[tuple[int, int], _Attempt] = {}
        self._wakeup: Callable[[], None] = lambda: None
        self._monitor: asyncio.Task[None] | None = None
        self._fingerprint: tuple[object, ...] = ()

    # -- lifecycle -----------------------------------------------------------------------
    def set_wakeup(self, wakeup: Callable[[], None]) -> None:
        self._wakeup = wakeup

    async def open(self) -> None:
        self._runs.mkdir(parents=True, exist_ok=True)
        # open() runs again when a replica becomes the leader: drop the attempts another
        # replica has forgotten since (their directories are gone), then read the rest
        self._attempts = {k: a for k, a in self._attempts.items() if a.directory.exists()}
        for spec_file in sorted(self._runs.glob("*/spec.json")):
            with contextlib.suppress(OSError, ValueError, KeyError):
                data = json.loads(spec_file.read_text())
                att = _Attempt(
                    data["task_id"],
                    data["attempt"],
                    spec_file.parent,
                    [(r["rank"], r["node"]) for r in data["ranks"]],
                    endpoint=str(data.get("endpoint", "")),
                )
                self._attempts[(att.task_id, att.attempt)] = att
        self._monitor = asyncio.create_task(self._watch(), name="local-backend-monitor")

    async def close(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor

    async def inventory(self) -> list[NodeState]:
        return list(self._nodes)

    # -- actions -----------------------------------------------------------------------
    async def start(self, spec: AttemptSpec) -> None:
        if spec.key in self._attempts:
            return
        known = {n.name for n in self._nodes}
        for r in spec.ranks:
            if r.node not in known:
                raise BackendError(f"node {r.node} is not part of this machine", retryable=True)
        if not os.path.isdir(spec.workdir):
            raise BackendError(f"working directory {spec.workdir} does not exist", retryable=False)
        identity = rank_identity(spec)  # BackendError: an owner without uid on a root server
        directory = self._runs / f"{spec.task_id}-{spec.attempt}"
        if identity is not None:
            check_reachable(
                [directory, Path(spec.log_dir), Path(self._python), Path(HAI_CLI_ROOT)], *identity
            )
        if directory.exists():
            shutil.rmtree(directory, ignore_errors=True)
        att = _Attempt(
            spec.task_id, spec.attempt, directory, [(r.rank, r.node) for r in spec.ranks]
        )
        att.control.mkdir(parents=True)
        Path(spec.log_dir).mkdir(parents=True, exist_ok=True)
        for r in spec.ranks:
            att.rank_dir(r.rank).mkdir()
        if identity is not None:
            os.chmod(Path(spec.log_dir).parent, 0o711)  # the task's log folder: pass through
            dirs = [directory, att.control, Path(spec.log_dir)]
            hand_over(dirs + [att.rank_dir(r.rank) for r in spec.ranks], *identity)
        master_port = _free_port()
        if spec.kind == "jupyter":  # JupyterLab listens on it (one rank: no rendezvous)
            att.endpoint = f"127.0.0.1:{master_port}"
        self._attempts[spec.key] = att
        # written before any rank starts, so a replica that takes over finds every launched rank
        write_atomic(
            directory / "spec.json",
            json.dumps(
                {
                    "task_id": spec.task_id,
                    "attempt": spec.attempt,
                    "ranks": [{"rank": r.rank, "node": r.node} for r in spec.ranks],
                    "master_port": master_port,
                    "endpoint": att.endpoint,
                }
            ),
        )
        for r in spec.ranks:
            rank_dir = att.rank_dir(r.rank)
            env = dict(self._base_env)
            env.update(spec.env)
            env.update(r.env)  # CUDA_VISIBLE_DEVICES and LOCAL_WORLD_SIZE: the launch decided
            env.update(
                {
                    "MASTER_ADDR": "127.0.0.1",
                    "MASTER_PORT": str(master_port),
                    "HAI_CONTROL_DIR": str(att.control),
                    "HAI_LOG_DIR": spec.log_dir,
                    "HAI_HEARTBEAT_S": f"{self._heartbeat_s:g}",
                }
            )
            if identity is not None:
                env.update(user_env(identity[0]))
            log = os.path.join(spec.log_dir, f"rank-{r.rank}.log")
            cmd = wrapper_command(self._python, log, str(rank_dir), list(spec.argv))
            wrapper_log = open(rank_dir / "wrapper.log", "wb")  # noqa: SIM115 - closed below
            try:
                proc = subprocess.Popen(
                    cmd,
                    cwd=spec.workdir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=wrapper_log,
                    start_new_session=True,
                    **_drop(identity),
                )
            except (OSError, ValueError) as exc:  # ValueError: e.g. a NUL byte in an argument
                await self.terminate(spec.task_id, spec.attempt, 0)
                raise BackendError(f"cannot start rank {r.rank}: {exc}", retryable=False) from exc
            finally:
                wrapper_log.close()
            att.procs[r.rank] = proc
            write_atomic(rank_dir / "wrapper_pid", f"{proc.pid}\n")

    async def notify_suspend(self, task_id: int, attempt: int, deadline: float) -> None:
        att = self._attempts.get((task_id, attempt))
        if att is not None:
            control.give_notice(att.control, deadline)

    async def terminate(self, task_id: int, attempt: int, grace_s: float) -> None:
        att = self._attempts.get((task_id, attempt))
        if att is None:
            return
        kill_file = att.directory / "kill_at"
        if kill_file.exists():
            return
        if not att.directory.exists():  # forgotten by another replica: nothing left to stop
            self._attempts.pop((task_id, attempt), None)
            return
        write_atomic(kill_file, f"{time.time() + grace_s:.3f}\n")
        self._signal_all(att, signal.SIGTERM)

    async def observe(self) -> list[AttemptObservation]:
        return [self._observe_one(att) for att in list(self._attempts.values())]

    async def forget(self, task_id: int, attempt: int) -> None:
        att = self._attempts.pop((task_id, attempt), None)
        if att is not None:
            for proc in att.procs.values():
                proc.poll()
            await asyncio.to_thread(shutil.rmtree, att.directory, True)

    async def gpu_utilisation(self, devices: tuple[int, ...]) -> float | None:
        """The highest utilisation (%) of GPUs ``devices`` now (nvidia-smi); None: unknown."""
        from hai_server.backends.local.machine import gpu_utilisation

        return await asyncio.to_thread(gpu_utilisation, devices)

    # -- internals -----------------------------------------------------------------------
    def _signal_all(self, att: _Attempt, sig: signal.Signals) -> None:
        for rank, _node in att.ranks:
            rank_dir = att.rank_dir(rank)
            if (rank_dir / control.EXIT_CODE).exists():
                continue
            pid = read_int(rank_dir / control.PID)
            target = pid if pid is not None else read_int(rank_dir / "wrapper_pid")
            if target is None:
                continue
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if pid is not None:
                    os.killpg(pid, sig)
                else:
                    os.kill(target, sig)

    def _rank_state(self, att: _Attempt, rank: int, node: str) -> RankObservation:
        rank_dir = att.rank_dir(rank)
        code = read_int(rank_dir / control.EXIT_CODE)
        if code is not None:
            return RankObservation(
                rank, node, "exited", code, before_stop=_exited_before_stop(att, rank_dir)
            )
        proc = att.procs.get(rank)
        wrapper_alive = (
            proc.poll() is None
            if proc is not None
            else is_alive(read_int(rank_dir / "wrapper_pid"))
        )
        if not wrapper_alive:
            # the wrapper died without writing an exit code: killed from outside, or lost
            code = read_int(rank_dir / control.EXIT_CODE)
            if code is not None:
                return RankObservation(rank, node, "exited", code)
            if (att.directory / "kill_at").exists():
                return RankObservation(rank, node, "exited", 137, "killed")
            return RankObservation(rank, node, "lost", None, "the rank's process vanished")
        if read_int(rank_dir / control.PID) is not None:
            return RankObservation(
                rank, node, "running", endpoint=att.endpoint if rank == 0 else ""
            )
        return RankObservation(rank, node, "pending")

    def _observe_one(self, att: _Attempt) -> AttemptObservation:
        ranks = tuple(self._rank_state(att, rank, node) for rank, node in att.ranks)
        kill_at = read_float(att.directory / "kill_at")
        if (
            kill_at is not None
            and time.time() >= kill_at
            and any(r.state in ("running", "pending") for r in ranks)
        ):
            self._signal_all(att, signal.SIGKILL)
        said = control.read_control(att.control)
        return AttemptObservation(
            att.task_id,
            att.attempt,
            ranks,
            said.acked,
            said.whole_life_state,
            said.last_checkpoint_at,
            listening=said.listening,
            pulses=tuple(RankPulse(r, *said.pulses[r]) for r in sorted(said.pulses)),
            watchdog_s=said.watchdog_s,
            priority=said.priority,
        )

    def _scan(self) -> tuple[object, ...]:
        parts: list[object] = []
        for key, att in sorted(self._attempts.items()):
            try:
                # heartbeats rewrite their files: their temporary names are no change
                names = tuple(sorted(n for n in os.listdir(att.control) if control.TMP not in n))
            except OSError:
                names = ()
            done = tuple((att.rank_dir(r) / control.EXIT_CODE).exists() for r, _ in att.ranks)
            running = tuple((att.rank_dir(r) / control.PID).exists() for r, _ in att.ranks)
            dead = tuple(p.poll() is not None for p in att.procs.values())
            parts.append((key, names, done, running, dead))
        return tuple(parts)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            try:
                fp = self._scan()
            except Exception:
                continue
            if fp != self._fingerprint:
                self._fingerprint = fp
                self._wakeup()


def _drop(identity: tuple[int, int] | None) -> dict[str, object]:
    """Popen arguments that run the rank wrapper as ``identity`` (no supplementary groups)."""
    if identity is None:
        return {}
    uid, gid = identity
    return {"user": uid, "group": gid, "extra_groups": []}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def detect_gpus() -> int:
    """Number of NVIDIA GPUs on this machine (0 when nvidia-smi is missing or fails)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return 0
    try:
        out = subprocess.run(
            [exe, "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.splitlines() if line.strip())


def local_nodes(count: int, gpus_per_node: int | None, group: str, zone: str) -> list[NodeState]:
    """``count`` virtual nodes sharing this machine's GPUs: node i has the i-th slice of them
    (``gpu_first``), so two ranks on this machine never see the same device."""
    gpus = gpus_per_node if gpus_per_node is not None else detect_gpus() // max(count, 1)
    return [
        NodeState(name=f"local-{i}", group=group, zone=zone, gpus=gpus, gpu_first=i * gpus)
        for i in range(count)
    ]


def _exited_before_stop(att: _Attempt, rank_dir: Path) -> bool:
    """The rank ended on its own, before any stop signal could reach it: its wrapper says so
    (control.UNSIGNALLED), or its exit file is older than the attempt's kill mark (written
    just before the SIGTERM)."""
    if (rank_dir / control.UNSIGNALLED).exists():
        return True
    try:
        kill_mark = (att.directory / "kill_at").stat().st_mtime
    except OSError:
        return False  # never stopped: nothing to tell apart
    try:
        return (rank_dir / control.EXIT_CODE).stat().st_mtime < kill_mark
    except OSError:
        return False
