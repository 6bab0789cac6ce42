"""Request bodies (validated by msgspec before a handler runs)."""

from __future__ import annotations

import msgspec


class SubmitBody(msgspec.Struct, forbid_unknown_fields=True):
    argv: list[str]
    workdir: str
    name: str | None = None
    nodes: int = 1
    priority: str | int = "NORMAL"
    group: str | None = None
    env: dict[str, str] = {}
    kind: str = "python"
    suspend_after: float | None = None
    image: str | None = None
