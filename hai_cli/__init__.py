"""HAI Platform command-line client, task SDK and terminal UI."""
