"""General fixtures of the suite."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def open_tree() -> Iterator[Path]:
    """A directory tree other uids may pass through (0711; pytest's tmp_path is closed to
    them): for servers that run as root and drop each rank to its owner's uid."""
    root = Path(tempfile.mkdtemp(prefix="hai-open-", dir="/tmp"))
    os.chmod(root, 0o711)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def rank_python_env() -> dict[str, str]:
    """What ranks of another uid need to run the wrapper from this checkout: the system's
    interpreter (this venv lives under /root, closed to them) and the code on PYTHONPATH."""
    from tests.support import REPO

    return {"HAI_LOCAL__PYTHON": "/usr/bin/python3", "PYTHONPATH": str(REPO)}
