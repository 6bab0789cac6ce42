"""Process helpers of the local backend (files: ``hai_cli.control``)."""

from __future__ import annotations

import os
from pathlib import Path

import hai_cli


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


# the folder that holds the hai_cli package (the project root of an editable install)
HAI_CLI_ROOT = str(Path(hai_cli.__file__).resolve().parent.parent)


def wrapper_command(python: str, log: str, status_dir: str, argv: list[str]) -> list[str]:
    """The rank wrapper's command line: ``python -S``, so the wrapper does not pay for site
    (.pth files, an editable install's import hook: ~20-35 ms of every rank's start); it
    needs only the standard library and ``hai_cli`` (imported from its folder). The rank's
    own command is started by the wrapper with the usual site."""
    boot = (
        f"import sys; sys.path.insert(0, {HAI_CLI_ROOT!r}); "
        "from hai_cli.rankrun import main; sys.exit(main())"
    )
    return [python, "-S", "-c", boot, "--log", log, "--status-dir", status_dir, "--", *argv]
