"""Every process a rank starts, even one that leaves the rank's process group.

The rank wrapper signals its command's process group; a process that calls ``setsid()`` (a
daemonising library, ``nohup setsid ...``) leaves that group and would outlive the task. The
wrapper therefore makes itself a *child subreaper* (Linux ``PR_SET_CHILD_SUBREAPER``): an
orphaned descendant is re-parented to the wrapper instead of to init, so it stays in the
wrapper's process tree whatever sessions or groups it creates, and ``descendants()`` finds it
by walking the parent links in ``/proc``. When the rank's command ends, or when the platform
stops it, the wrapper signals that whole tree.

Standard library only (the wrapper also runs in task images that have nothing else).
"""

from __future__ import annotations

import contextlib
import os
import signal

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux >= 3.4); False where the kernel or libc cannot."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def parent_of(stat: bytes) -> int:
    """The parent pid in a ``/proc/PID/stat`` line (the name may hold spaces and parens)."""
    fields = stat[stat.rindex(b")") + 2 :].split()
    return int(fields[1])


def parents(proc: str = "/proc") -> dict[int, int]:
    """``pid -> parent pid`` for every process visible in ``proc``."""
    found: dict[int, int] = {}
    try:
        names = os.listdir(proc)
    except OSError:
        return found
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"{proc}/{name}/stat", "rb") as f:
                found[int(name)] = parent_of(f.read())
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not readable
    return found


def tree_below(root: int, links: dict[int, int]) -> list[int]:
    """Every pid under ``root`` in the parent links ``links`` (pure), parents before children."""
    children: dict[int, list[int]] = {}
    for pid, ppid in links.items():
        children.setdefault(ppid, []).append(pid)
    out: list[int] = []
    todo = sorted(children.get(root, ()))
    seen = {root}
    while todo:
        pid = todo.pop(0)
        if pid in seen:
            continue
        seen.add(pid)
        out.append(pid)
        todo.extend(sorted(children.get(pid, ())))
    return out


def descendants(root: int | None = None) -> list[int]:
    """The live processes under ``root`` (default: this process)."""
    return tree_below(os.getpid() if root is None else root, parents())


def signal_tree(sig: int, root: int | None = None, skip_group: int | None = None) -> int:
    """Send ``sig`` to every process under ``root`` except the members of process group
    ``skip_group`` (already signalled through ``killpg``: a second SIGINT would raise a
    second KeyboardInterrupt); how many were signalled."""
    sent = 0
    for pid in descendants(root):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if skip_group is not None and os.getpgid(pid) == skip_group:
                continue
            os.kill(pid, sig)
            sent += 1
    return sent


def reap() -> None:
    """Collect the exit status of every adopted child that has ended (no zombies left)."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_tree(root: int | None = None) -> None:
    """SIGKILL everything under ``root`` until nothing is left (a forking process may add
    children between a scan and its kill), then reap. Bounded: at most 50 rounds."""
    for _ in range(50):
        if signal_tree(signal.SIGKILL, root) == 0:
            break
        reap()
    reap()
