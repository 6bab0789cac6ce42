"""The server's log lines: text for people (default) or JSON lines for log pipelines
(``HAI_LOG_FORMAT=json``: one object per line with ``time``, ``level``, ``logger``, ``message``
and, for an exception, ``exc_info``)."""

from __future__ import annotations

import logging

FORMATS = ("text", "json")
_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class BadLogFormat(ValueError):
    pass


def configure_logging(level: str, fmt: str = "text") -> None:
    """Set up the root logger (uvicorn's loggers propagate to it). Raises BadLogFormat."""
    fmt = (fmt or "text").strip().lower()
    if fmt not in FORMATS:
        raise BadLogFormat(f"HAI_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    handler = logging.StreamHandler()
    if fmt == "json":
        from pythonjsonlogger.json import JsonFormatter

        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter(_TEXT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
