"""Following a rank's log off the UI thread, and turning bytes into lines in batches.

A follow stream may stay open for hours, so it does not run in Textual's worker pool (a
few blocked followers would starve it, and the pool is joined at exit): it runs in its own
daemon thread and hands bytes over through a lock. The screen drains them on a timer, so a
task printing thousands of lines per second costs one batched append per tick.
"""

from __future__ import annotations

import codecs
import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from hai_cli.client import ApiError, ConnectionFailed


class LineBuffer:
    """Bytes in, complete lines out; a trailing partial line waits for its newline."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial = ""

    def feed(self, data: bytes) -> list[str]:
        text = self._partial + self._decoder.decode(data)
        lines = text.split("\n")
        self._partial = lines.pop()
        return [line.rstrip("\r") for line in lines]

    def flush(self) -> list[str]:
        rest = self._partial + self._decoder.decode(b"", final=True)
        self._partial = ""
        return [rest] if rest else []


class LogFollower:
    """One follow stream in a daemon thread. ``take()`` returns what arrived since last time."""

    def __init__(self, open_stream: Callable[[], Iterator[bytes]]) -> None:
        self._open = open_stream
        self._lock = threading.Lock()
        self._chunks: list[bytes] = []
        self._stop = threading.Event()
        self.done = False
        self.error: str | None = None
        self.received = 0
        self._thread = threading.Thread(target=self._run, name="hai-log-follow", daemon=True)

    def start(self) -> LogFollower:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop handing data over; the thread ends at its next chunk or when the stream ends."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def _run(self) -> None:
        stream: Any = None
        try:
            stream = self._open()
            for chunk in stream:
                if self._stop.is_set():
                    break
                with self._lock:
                    self._chunks.append(chunk)
                    self.received += len(chunk)
        except ConnectionFailed as exc:
            self.error = str(exc)
        except ApiError as exc:
            self.error = f"{exc.message} (HTTP {exc.status})"
        except Exception as exc:  # never let a stream kill the UI
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()
            self.done = True

    def take(self) -> bytes:
        with self._lock:
            if not self._chunks:
                return b""
            data = b"".join(self._chunks)
            self._chunks.clear()
        return data
