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
