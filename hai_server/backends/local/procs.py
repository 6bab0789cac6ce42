"""Process helpers of the local backend (files: ``hai_cli.control``)."""

from __future__ import annotations

import os


def is_alive(pid: int | None) -> bool:
    """True if ``pid`` runs and is not a zombie."""
    if pid is None or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return fields[0] != "Z"
    except (OSError, IndexError):
        return True
