"""Entry point of the ``hai-cli`` console script."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] in (["--version"], ["-V"]):  # answered without loading the commands
        from hai_cli.version import version

        sys.stdout.write(version() + "\n")
        sys.exit(0)
    if sys.argv[1:2] in (["venv"], ["haienv"]):  # the haienv command: no Typer needed
        from hai_cli.commands.venv import run

        sys.exit(run(sys.argv[2:]))
    from hai_cli.argv import BadSeparator, MissingValue, reorder
    from hai_cli.commands.submit import VALUE_OPTIONS

    try:
        sys.argv[1:] = reorder(sys.argv[1:], VALUE_OPTIONS)
    except (MissingValue, BadSeparator) as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(2)
    from hai_cli import fastpath

    code = fastpath.run(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from hai_cli.app import app

    app(prog_name="hai-cli")


if __name__ == "__main__":
    main()
