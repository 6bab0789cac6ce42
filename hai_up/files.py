"""Writing the rendered files (atomically: a reader never sees half a file)."""

from __future__ import annotations

import os
from pathlib import Path

from hai_up.errors import UpError


def write_files(directory: Path, files: dict[str, str], *, private: bool = True) -> list[Path]:
    """Write ``files`` into ``directory`` (created); mode 0600 when ``private`` (secrets)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for name, text in sorted(files.items()):
            path = directory / name
            tmp = directory / f".{name}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
            written.append(path)
        return written
    except OSError as exc:
        raise UpError(f"cannot write the rendered files to {directory}: {exc}") from None
