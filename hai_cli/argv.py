"""The seed's submit convention: ``hai-cli python FILE [SCRIPT_ARGS...] -- [OPTIONS]``.

Click ends option parsing at the first ``--``, which is where the *platform* options start in
this convention. ``reorder`` rewrites the command line (pure) so that Click sees
``python [OPTIONS] -- FILE [SCRIPT_ARGS...]``; options placed before FILE keep working.
"""

from __future__ import annotations

SUBMIT_COMMANDS = ("python", "bash", "exec")


class MissingValue(ValueError):
    """A platform option that takes a value came last (``hai-cli python t.py -- -p``)."""

    def __init__(self, option: str) -> None:
        super().__init__(f"option {option} needs a value")
        self.option = option


def _check_values(options: list[str], value_options: set[str]) -> None:
    for i, arg in enumerate(options):
        if arg in value_options and (i + 1 == len(options) or options[i + 1] == "--"):
            raise MissingValue(arg)


def reorder(argv: list[str], value_options: set[str]) -> list[str]:
    """Rewrite ``argv`` (without the program name) for a submit command.

    ``value_options`` are the option names that take a value (``-n``, ``--nodes``, ...).
    Anything that is not a submit command is returned unchanged. Raises MissingValue when
    a value option has no value (Click would otherwise take the ``--`` as its value).
    """
    if not argv or argv[0] not in SUBMIT_COMMANDS:
        return argv
    cmd, rest = argv[0], argv[1:]
    before: list[str] = []
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg == "--":  # `python -- FILE ...`: already in Click's shape
            return argv
        if not arg.startswith("-") or arg == "-":
            break
        before.append(arg)
        if arg in value_options and "=" not in arg:
            if i + 1 >= len(rest) or rest[i + 1] == "--":
                raise MissingValue(arg)
            if i + 1 < len(rest):
                before.append(rest[i + 1])
            i += 2
            continue
        i += 1
    positional = rest[i:]
    if not positional:
        return argv
    try:
        cut = positional.index("--")
    except ValueError:
        script, after = positional, []
    else:
        script, after = positional[:cut], positional[cut + 1 :]
    _check_values(after, value_options)
    return [cmd, *before, *after, "--", *script]
