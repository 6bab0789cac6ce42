"""Widgets: the error banner, and the keyed table (hai_cli/tui/table.py) re-exported."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from hai_cli.tui.table import KeyedTable

__all__ = ["Banner", "KeyedTable"]


class Banner(Static):
    """A full-width warning line shown while the server is down or refuses the token."""

    DEFAULT_CSS = """
    Banner {
        display: none;
        height: auto;
        background: $error;
        color: $text;
        text-style: bold;
        padding: 0 1;
    }
    Banner.-shown { display: block; }
    """

    def show(self, message: str) -> None:
        self.update(Text(message))
        self.add_class("-shown")

    def hide(self) -> None:
        self.remove_class("-shown")

    @property
    def shown(self) -> bool:
        return self.has_class("-shown")
