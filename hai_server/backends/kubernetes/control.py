"""The attempt's run directory on shared storage: the suspend notice in, acks and state out.

Layout (the same as the local backend's, so the task SDK cannot tell them apart)::

    {shared}/{run_subdir}/{task}/{attempt}/control/suspend            <- the platform (deadline)
    {shared}/{run_subdir}/{task}/{attempt}/control/ack.<rank>         <- go_suspend()
    {shared}/{run_subdir}/{task}/{attempt}/control/whole_life_state   <- set_whole_life_state()
    {shared}/{run_subdir}/{task}/{attempt}/control/checkpoint.<rank>  <- report_checkpoint()
    {shared}/{run_subdir}/{task}/{attempt}/control/heartbeat.<rank>   <- hai_cli.rankrun (pulse)
    {shared}/{run_subdir}/{task}/{attempt}/control/watchdog_s         <- set_watchdog_time()
    {shared}/{run_subdir}/{task}/{attempt}/rank<R>/{pid,exit_code}    <- hai_cli.rankrun

Pods mount the attempt directory at ``pod_run_dir``; the server reads and writes the same
files through its own mount. Blocking file I/O: the backend calls these in a worker thread.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from hai_cli import control


@dataclass(frozen=True, slots=True)
class ControlFiles:
    acked: frozenset[int]
    whole_life_state: int | None
    last_checkpoint_at: float | None
    exit_codes: dict[int, int]
    listening: frozenset[int] = frozenset()
    pulses: dict[int, tuple[float, float]] = field(default_factory=dict)
    watchdog_s: int | None = None
    priority: int | None = None
    # ranks whose command ended before their wrapper got a stop signal (control.UNSIGNALLED)
    unsignalled: frozenset[int] = frozenset()


def prepare(run_dir: str, log_dir: str, ranks: int) -> None:
    """Create the directories pods mount (before the pods exist, so subPath mounts work)."""
    os.makedirs(os.path.join(run_dir, "control"), exist_ok=True)
    for rank in range(ranks):
        os.makedirs(os.path.join(run_dir, f"rank{rank}"), exist_ok=True)
    os.makedirs(log_dir, exist_ok=True)
    # Ranks may run as any uid inside their image: let them write acks and status files.
    for path in [os.path.join(run_dir, "control")] + [
        os.path.join(run_dir, f"rank{r}") for r in range(ranks)
    ]:
        with contextlib.suppress(OSError):
            os.chmod(path, 0o1777)


def give_notice(run_dir: str, deadline: float) -> None:
    """Create ``control/suspend`` once (a later call keeps the first deadline)."""
    control.give_notice(os.path.join(run_dir, "control"), deadline)


def read(
    run_dir: str, exit_codes_of: Iterable[int] = (), markers_of: Iterable[int] = ()
) -> ControlFiles:
    """Acks, whole-life state, last checkpoint time, the exit codes of ``exit_codes_of``, and
    which of ``markers_of`` ended before any stop signal reached them."""
    said = control.read_control(os.path.join(run_dir, "control"))
    codes: dict[int, int] = {}
    for rank in exit_codes_of:
        code = control.read_int(os.path.join(run_dir, f"rank{rank}", control.EXIT_CODE))
        if code is not None:
            codes[rank] = code
    return ControlFiles(
        said.acked,
        said.whole_life_state,
        said.last_checkpoint_at,
        codes,
        said.listening,
        said.pulses,
        said.watchdog_s,
        said.priority,
        frozenset(
            r
            for r in markers_of
            if os.path.exists(os.path.join(run_dir, f"rank{r}", control.UNSIGNALLED))
        ),
    )
