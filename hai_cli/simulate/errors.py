"""The one error type the simulator raises for bad input (the CLI prints it and exits 2)."""


class InputError(ValueError):
    """Bad trace, cluster file or option: the message is one line a user can act on."""
