"""``hai-cli --version``: the installed package's version (standard library only)."""

from __future__ import annotations


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return f"hai-cli {installed('hai-platform')}"
    except PackageNotFoundError:
        return "hai-cli (not installed: running from a source tree)"
