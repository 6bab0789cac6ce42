"""Writing the rendered files (atomically: a reader never sees half a file)."""

from __future__ import annotations

import os
from pathlib import Path

from hai_up.errors import UpError


def _write(path: Path, text: str, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, mode)  # the umask does not widen or narrow it
    os.replace(tmp, path)


def write_files(
    directory: Path, files: dict[str, str], *, private: bool = True, keep_old: bool = True
) -> list[Path]:
    """Write ``files`` into ``directory`` (created); mode 0600 when ``private`` (secrets).

    ``keep_old``: a file replaced by different text is first copied to ``NAME.old`` (same
    mode), as the original hai-up did, so a hand edit is never lost without a copy.
    """
    mode = 0o600 if private else 0o644
    try:
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for name, text in sorted(files.items()):
            path = directory / name
            if keep_old and path.is_file():
                old = path.read_text(encoding="utf-8", errors="replace")
                if old != text:
                    _write(path.with_name(f"{name}.old"), old, mode)
            _write(path, text, mode)
            written.append(path)
        return written
    except OSError as exc:
        raise UpError(f"cannot write the rendered files to {directory}: {exc}") from None
