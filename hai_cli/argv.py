"""The original HAI separators: ``hai-cli python FILE [SCRIPT_ARGS...] [-- OPTIONS | ++ SIM]``.

* no separator: run FILE here, in the foreground, with the SDK in local mode;
* ``--``: submit; the platform's options follow (they may also come before FILE, and
  options before FILE alone also mean a submission: they are the platform's);
* ``++``: run FILE here with a cluster-like environment; ``--suspend_seconds S`` (``-ss``)
  sends a suspend notice after S seconds, ``--life_state N`` (``-ls``) sets the initial
  whole-life state.

Click ends option parsing at the first ``--``, which is where the *platform* options start in
this convention. ``reorder`` rewrites the command line (pure) so that Click sees
``python [OPTIONS] -- FILE [SCRIPT_ARGS...]``, with the hidden option ``--local`` (no
separator) or ``--simulate`` plus its options (``++``) when the run is not a submission.
"""

from __future__ import annotations

SUBMIT_COMMANDS = ("python", "bash", "exec")
LOCAL = "--local"  # hidden options of the submit commands: the mode reorder chose
SIMULATE = "--simulate"
SIMULATE_OPTIONS = {  # spelling the user may type -> the hidden option Click knows
    "--suspend_seconds": "--suspend_seconds",
    "--suspend-seconds": "--suspend_seconds",
    "-ss": "--suspend_seconds",
    "--life_state": "--life_state",
    "--life-state": "--life_state",
    "-ls": "--life_state",
}


class MissingValue(ValueError):
    """A platform option that takes a value came last (``hai-cli python t.py -- -p``)."""

    def __init__(self, option: str) -> None:
        super().__init__(f"option {option} needs a value")
        self.option = option


class BadSeparator(ValueError):
    """What follows ``++`` is not a simulation option, or options were mixed with ``++``."""


def _check_values(options: list[str], value_options: set[str]) -> None:
    for i, arg in enumerate(options):
        if arg in value_options and (i + 1 == len(options) or options[i + 1] == "--"):
            raise MissingValue(arg)


def _simulate_options(after: list[str]) -> list[str]:
    """``++ --suspend_seconds 30 -ls 5`` -> the hidden options, each spelling normalised."""
    out: list[str] = []
    i = 0
    while i < len(after):
        arg = after[i]
        key, eq, value = arg.partition("=")
        if key not in SIMULATE_OPTIONS:
            raise BadSeparator(
                f"unknown option after ++: {arg!r} (++ takes --suspend_seconds S and "
                "--life_state N; submit with --)"
            )
        if not eq:
            if i + 1 >= len(after):
                raise MissingValue(arg)
            value = after[i + 1]
            i += 1
        out += [SIMULATE_OPTIONS[key], value]
        i += 1
    return out


def reorder(argv: list[str], value_options: set[str]) -> list[str]:
    """Rewrite ``argv`` (without the program name) for a submit command.

    ``value_options`` are the option names that take a value (``-n``, ``--nodes``, ...).
    Anything that is not a submit command is returned unchanged. Raises MissingValue when
    a value option has no value (Click would otherwise take the ``--`` as its value), and
    BadSeparator for what ``++`` cannot take.
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
            before.append(rest[i + 1])
            i += 2
            continue
        i += 1
    positional = rest[i:]
    if not positional:
        return argv
    cut = next((k for k, a in enumerate(positional) if a in ("--", "++")), None)
    if cut is None:
        # no separator: a local run, unless platform options before FILE ask for a submission
        return [cmd, *before, "--", *positional] if before else [cmd, LOCAL, "--", *positional]
    script, sep, after = positional[:cut], positional[cut], positional[cut + 1 :]
    if sep == "++":
        if before:
            raise BadSeparator(
                f"platform options ({before[0]}) submit a task: use -- instead of ++, "
                "or drop them to run here"
            )
        return [cmd, SIMULATE, *_simulate_options(after), "--", *script]
    _check_values(after, value_options)
    return [cmd, *before, *after, "--", *script]
