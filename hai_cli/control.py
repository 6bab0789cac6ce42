"""The control-file protocol between the platform and a task's ranks (standard library only).

Every rank of an attempt shares a control directory (``$HAI_CONTROL_DIR``: a local directory
for local ranks, a directory on shared storage for pods); each rank also has a status
directory the rank wrapper writes. The platform and the task talk only through these files:

=========================  ================================================  =========
file                       meaning                                           written by
=========================  ================================================  =========
``control/suspend``        the suspend notice; its text is the deadline       the platform
``control/ack.<rank>``     this rank saved and may be stopped (go_suspend)    the task
``control/whole_life_state``  a 64-bit integer kept across restarts           the task
``control/checkpoint.<rank>`` when this rank last saved (report_checkpoint)   the task
``control/listening.<rank>``  this rank polls for the notice (first poll)     the task
``control/heartbeat.<rank>``  "<now> <last output>": the rank's pulse          rankrun
``control/watchdog_s``     the watchdog time set from code (seconds)          the task
``control/priority``       the priority the task asks for (set_priority)      the task
``rank<R>/pid``            the process group of the rank's command            rankrun
``rank<R>/exit_code``      the command's exit code (128 + signal if killed)   rankrun
=========================  ================================================  =========

Every file is written whole (a temporary file renamed over it), so a reader never sees half
of one. Used by the task SDK (``runtime.py``), the rank wrapper (``rankrun.py``) and both
backends; task images need nothing but this package.
"""

from __future__ import annotations

import os

Path = str | os.PathLike[str]

SUSPEND = "suspend"
WHOLE_LIFE_STATE = "whole_life_state"
ACK = "ack."
CHECKPOINT = "checkpoint."
LISTENING = "listening."  # a rank that never polls cannot hear a notice: no grace is waited
HEARTBEAT = "heartbeat."  # "<wall time now> <wall time of the command's last output>"
WATCHDOG_S = "watchdog_s"  # set_watchdog_time(): plain integer seconds
PRIORITY = "priority"  # a priority value the task asks for (set_priority)
PID = "pid"
EXIT_CODE = "exit_code"
# written (before exit_code) when the command ended before the wrapper got any stop signal:
# an exit 0 then is work finished, never a save on the platform's SIGTERM (no clocks compared)
UNSIGNALLED = "exit_unsignalled"
TMP = ".tmp."  # temporary files of write_atomic: never read as data


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, whole."""
    tmp = f"{path}{TMP}{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def read_text(path: Path) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


def read_int(path: Path) -> int | None:
    text = read_text(path)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def read_float(path: Path) -> float | None:
    text = read_text(path)
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def rank_file(status_dir: Path, name: str) -> str:
    return os.path.join(status_dir, name)


def ack_file(control_dir: Path, rank: int) -> str:
    return os.path.join(control_dir, f"{ACK}{rank}")


def checkpoint_file(control_dir: Path, rank: int) -> str:
    return os.path.join(control_dir, f"{CHECKPOINT}{rank}")


def listening_file(control_dir: Path, rank: int) -> str:
    return os.path.join(control_dir, f"{LISTENING}{rank}")


def heartbeat_file(control_dir: Path, rank: int) -> str:
    return os.path.join(control_dir, f"{HEARTBEAT}{rank}")


def write_heartbeat(control_dir: Path, rank: int, now: float, output_at: float) -> None:
    write_atomic(heartbeat_file(control_dir, rank), f"{now:.3f} {output_at:.3f}\n")


def read_heartbeat(path: Path) -> tuple[float, float] | None:
    """(time of the pulse, time of the last output), or None for a missing or bad file."""
    parts = (read_text(path) or "").split()
    try:
        return (float(parts[0]), float(parts[1])) if len(parts) == 2 else None
    except ValueError:
        return None


def give_notice(control_dir: Path, deadline: float) -> None:
    """Create ``suspend`` once (a later call keeps the first deadline)."""
    path = os.path.join(control_dir, SUSPEND)
    if os.path.exists(path):
        return
    os.makedirs(control_dir, exist_ok=True)
    write_atomic(path, f"{deadline:.3f}\n")


class ControlState:
    """What the ranks said through the control directory (a plain class: the rank wrapper
    imports this module, and ``dataclasses`` alone would add ~10 ms to every rank's start)."""

    __slots__ = (
        "acked",
        "last_checkpoint_at",
        "listening",
        "priority",
        "pulses",
        "watchdog_s",
        "whole_life_state",
    )

    def __init__(
        self,
        acked: frozenset[int],
        whole_life_state: int | None,
        last_checkpoint_at: float | None,
        listening: frozenset[int] = frozenset(),
        pulses: dict[int, tuple[float, float]] | None = None,
        watchdog_s: int | None = None,
        priority: int | None = None,
    ) -> None:
        self.acked = acked
        self.whole_life_state = whole_life_state
        self.last_checkpoint_at = last_checkpoint_at
        self.listening = listening
        self.pulses = pulses or {}  # rank -> (heartbeat at, last output at)
        self.watchdog_s = watchdog_s  # from set_watchdog_time(), when the task called it
        self.priority = priority

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ControlState) and all(
            getattr(self, k) == getattr(other, k) for k in self.__slots__
        )

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__)
        return f"ControlState({fields})"


def _rank_suffix(name: str, prefix: str) -> int | None:
    rest = name[len(prefix) :]
    return int(rest) if rest.isdigit() else None


def read_control(control_dir: Path) -> ControlState:
    """Acks, listening ranks, heartbeats, the whole-life state, the watchdog time set from
    code and the latest checkpoint time (missing dir: nothing said)."""
    acked: set[int] = set()
    pulses: dict[int, tuple[float, float]] = {}
    watchdog_s: int | None = None
    listening: set[int] = set()
    state: int | None = None
    priority: int | None = None
    checkpoint: float | None = None
    try:
        names = os.listdir(control_dir)
    except OSError:
        names = []
    for name in names:
        if TMP in name:
            continue
        if name.startswith(ACK):
            if (rank := _rank_suffix(name, ACK)) is not None:
                acked.add(rank)
        elif name.startswith(LISTENING):
            if (rank := _rank_suffix(name, LISTENING)) is not None:
                listening.add(rank)
        elif name.startswith(CHECKPOINT):
            value = read_float(os.path.join(control_dir, name))
            if value is not None and (checkpoint is None or value > checkpoint):
                checkpoint = value
        elif name.startswith(HEARTBEAT):
            rank = _rank_suffix(name, HEARTBEAT)
            pulse = read_heartbeat(os.path.join(control_dir, name))
            if rank is not None and pulse is not None:
                pulses[rank] = pulse
        elif name == WHOLE_LIFE_STATE:
            state = read_int(os.path.join(control_dir, name))
        elif name == WATCHDOG_S:
            value = read_int(os.path.join(control_dir, name))
            watchdog_s = value if value is not None and value >= 0 else None
        elif name == PRIORITY:
            priority = read_int(os.path.join(control_dir, name))
    return ControlState(
        frozenset(acked), state, checkpoint, frozenset(listening), pulses, watchdog_s,
        priority,
    )  # fmt: skip
