"""The server's state directory: private files, directories ranks may only pass through.

Everything the server writes is private to it (umask 077: the database, its WAL, tokens,
logs of the server itself). The state directory, ``runs/`` and the log root are 0711: a rank
running as another uid can pass through them to reach its own attempt's directories (handed
to it, 0700) but can list or read nothing else.
"""

from __future__ import annotations

import os
from pathlib import Path

PASS_THROUGH = 0o711


def private_files() -> None:
    """Files and directories this process creates are its own (hai-server's entry point)."""
    os.umask(0o077)


def prepare_home(home: Path, runs: Path, logs: Path) -> None:
    for d in (home, runs, logs):
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, PASS_THROUGH)


PR_SET_DUMPABLE = 4


def private_process() -> bool:
    """Make this process non-dumpable: its ``/proc/PID/{environ,mem,...}`` become root's and
    no process of the same uid may ptrace it, so a rank running as the server's own user (a
    server not run as root) cannot read the server's environment or memory that way. The
    admin token itself is kept out of the environment (``--admin-token-file``). Returns
    whether it took effect (Linux only)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False
