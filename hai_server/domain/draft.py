"""A task's fields read from a row, changed in memory, written later as one guarded update.

The reconciler decides on plain rows (no ORM objects) in its pure phases; a :class:`Draft`
lets :func:`~hai_server.domain.transition.transition` work on such a row and collects what
changed (``changes``) and the events to record, for the guarded applier to write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hai_server.domain.transition import Event


class Draft:
    """Attribute access over a copy of ``fields``; ``changes`` holds what was assigned."""

    __slots__ = ("_fields", "changes", "events")

    def __init__(self, fields: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_fields", dict(fields))
        object.__setattr__(self, "changes", {})
        object.__setattr__(self, "events", [])

    def __getattr__(self, name: str) -> Any:
        try:
            return self._fields[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._fields:
            raise AttributeError(f"a task row has no field {name!r}")
        if self._fields[name] != value or name in self.changes:
            self.changes[name] = value
        self._fields[name] = value

    def record(self, ev: Event) -> None:
        self.events.append(ev)

    @property
    def changed(self) -> bool:
        return bool(self.changes or self.events)
