"""``hai-server --workers N``: N replicas in one container, sharing one listening socket.

Each worker is a whole replica (API, reconciler candidate, backend): only the one holding
the leader lock schedules, exactly as with replicas on several machines, so this needs
PostgreSQL. The kernel spreads connections over the workers' accept() calls. The parent
only supervises: it forwards SIGTERM/SIGINT, and if a worker dies unexpectedly it stops
the others and exits non-zero, so the container (or the operator) restarts the set.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from types import FrameType

log = logging.getLogger("hai.workers")


def fork_workers(n: int) -> int:
    """Fork ``n`` workers. Returns the worker's index in each child; never returns in the parent."""
    children: dict[int, int] = {}
    for index in range(n):
        pid = os.fork()
        if pid == 0:
            return index
        children[pid] = index
    stopping = False

    def forward(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = 0
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        index = children.pop(pid, -1)
        rc = os.waitstatus_to_exitcode(status)
        if not stopping:
            log.error("worker %d (pid %d) exited with %d; stopping the others", index, pid, rc)
            code = rc or 1
            forward(signal.SIGTERM, None)
    sys.exit(code)
