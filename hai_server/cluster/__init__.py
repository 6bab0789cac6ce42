"""What makes replicas one cluster: the leader lock (leader.py), Redis wake-ups (notify.py),
the log bus (logbus.py), forked workers (workers.py), and ``attach`` (attach.py) wiring them
to a replica. Embedded (SQLite, no Redis): one replica that always leads, all in-process."""
