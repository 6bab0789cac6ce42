"""Entry point of the ``hai-cli`` console script."""

from __future__ import annotations


def main() -> None:
    from hai_cli.app import app

    app()
