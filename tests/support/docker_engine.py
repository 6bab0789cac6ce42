"""A private Docker engine for the hai-up tests.

``dockerd --bridge=none --iptables=false --ip6tables=false`` with its own data root, exec root,
pidfile and unix socket under the hai-up cache directory (images persist between runs, so the
second run does not rebuild), and its own containerd namespace (no clash with another engine
sharing a system containerd). A lock file serialises test sessions that would share it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from python_on_whales import DockerClient, DockerException

START_TIMEOUT_S = 60.0
LOCK_WAIT_S = 600.0


class EngineUnavailable(Exception):
    """The private engine cannot run here; the message says why (used as the skip reason)."""


@dataclass
class PrivateEngine:
    root: Path
    socket: Path
    proc: subprocess.Popen[bytes]
    log: Path
    lock: IO[str]

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def client(self) -> DockerClient:
        return DockerClient(host=self.host)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        _unmount_under(self.root)  # dockerd leaves its netns (and on a failed start, data) mounts
        fcntl.flock(self.lock, fcntl.LOCK_UN)
        self.lock.close()


def _unmount_under(root: Path) -> None:
    prefix = str(root.resolve())
    try:
        with open("/proc/mounts", encoding="utf-8") as fh:
            points = [line.split()[1] for line in fh]
    except OSError:
        return
    for point in sorted(points, key=len, reverse=True):
        if point == prefix or point.startswith(prefix + "/"):
            subprocess.run(["umount", point], capture_output=True, check=False)


def _log_tail(path: Path, lines: int = 8) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start_private_engine(base: Path) -> PrivateEngine:
    """Start dockerd under ``base``; raise EngineUnavailable with the reason when it cannot."""
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise EngineUnavailable("dockerd not found (Debian: apt-get install docker.io)")
    if shutil.which("docker") is None:
        raise EngineUnavailable("the docker CLI is not installed (apt-get install docker.io)")
    if os.geteuid() != 0:
        raise EngineUnavailable("dockerd needs root here (not running as root)")
    base.mkdir(parents=True, exist_ok=True)
    lock = open(base / "engine.lock", "w")  # noqa: SIM115 - held for the whole session
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                lock.close()
                raise EngineUnavailable(
                    f"another test session holds {base / 'engine.lock'} for over "
                    f"{LOCK_WAIT_S:.0f} s"
                ) from None
            time.sleep(1)
    sock = base / "docker.sock"
    pidfile = base / "dockerd.pid"
    _stop_stale(pidfile)
    sock.unlink(missing_ok=True)
    log = base / "dockerd.log"
    cmd = [
        dockerd,
        "--bridge=none",
        "--iptables=false",
        "--ip6tables=false",
        "--data-root",
        str(base / "data"),
        "--exec-root",
        str(base / "exec"),
        "--pidfile",
        str(pidfile),
        "--host",
        f"unix://{sock}",
        "--containerd-namespace",
        "hai-up-test",
        "--containerd-plugins-namespace",
        "hai-up-test-plugins",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    engine = PrivateEngine(base, sock, proc, log, lock)
    client = engine.client()
    start = time.monotonic()
    while True:
        if proc.poll() is not None:
            engine.stop()
            raise EngineUnavailable(
                f"dockerd exited with {proc.returncode} at start: {_log_tail(log)}"
            )
        if sock.exists():
            try:
                client.system.info()
                return engine
            except DockerException:
                pass
        if time.monotonic() - start > START_TIMEOUT_S:
            engine.stop()
            raise EngineUnavailable(
                f"dockerd did not answer within {START_TIMEOUT_S:.0f} s: {_log_tail(log)}"
            )
        time.sleep(0.3)


def _stop_stale(pidfile: Path) -> None:
    """A dockerd left by a killed session (same pidfile, we hold the lock): stop it."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = fh.read().split(b"\0")
    except OSError:
        return
    if not argv or not argv[0].endswith(b"dockerd") or str(pidfile).encode() not in argv:
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if not Path(f"/proc/{pid}").exists():
            return
        time.sleep(0.3)
    os.kill(pid, signal.SIGKILL)
