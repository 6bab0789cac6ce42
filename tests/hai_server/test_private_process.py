"""A server not run as root runs ranks as its own uid; what it can still keep from them: its
environment and memory (``private_process``: non-dumpable, so /proc/PID/environ and ptrace are
closed to processes of the same uid). The token file is a file of that uid: a same-uid rank
can read it (README, "Ranks and identity"); only a root server, running ranks as their
owners, closes that too (tests/hai_server/backends/local/test_identity.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from hai_server import home as home_module

NOBODY = 65534
PYTHON = "/usr/bin/python3"  # the system's (this venv lives under /root, closed to nobody)
SERVER = r"""
import sys, time
ns = {}
exec(sys.stdin.read(), ns)
if sys.argv[1] == "private":
    assert ns["private_process"]()
print("ready", flush=True)
time.sleep(30)
"""
READER = r"""
import sys
try:
    data = open(f"/proc/{sys.argv[1]}/environ", "rb").read()
    print("READ" if b"HAI_ADMIN_TOKEN=hunter2" in data else "no secret")
except OSError as exc:
    print("denied", type(exc).__name__)
"""


def _as_nobody() -> None:
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def _read_environ_of(mode: str) -> str:
    source = Path(home_module.__file__).read_text()
    server = subprocess.Popen(
        [PYTHON, "-c", SERVER, mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={"HAI_ADMIN_TOKEN": "hunter2", "PATH": "/usr/bin:/bin"},
        preexec_fn=_as_nobody,
        text=True,
    )
    try:
        assert server.stdin is not None and server.stdout is not None
        server.stdin.write(source)
        server.stdin.close()
        assert server.stdout.readline().strip() == "ready"
        out = subprocess.run(
            [PYTHON, "-c", READER, str(server.pid)],
            capture_output=True,
            text=True,
            preexec_fn=_as_nobody,
            timeout=30,
            check=True,
        )
        return out.stdout.strip()
    finally:
        server.kill()
        server.wait()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run both sides as another uid")
def test_a_same_uid_process_cannot_read_a_private_servers_environment() -> None:
    if not os.access(PYTHON, os.X_OK):
        pytest.skip(f"no {PYTHON} for uid nobody to run")
    assert _read_environ_of("plain") == "READ"  # what the probe did
    assert _read_environ_of("private") == "denied PermissionError"
