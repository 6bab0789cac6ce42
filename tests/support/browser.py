"""A real browser for Studio's tests: Playwright driving Debian's Chromium (/usr/bin/chromium).

Playwright cannot download its own browsers here, so it launches the system's Chromium by
path; a test skips with the reason when that Chromium is missing or cannot start.
``.ci/run`` installs the ``chromium`` package when it is missing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("HAI_TEST_CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1280, "height": 800}


class NoBrowser(Exception):
    """Chromium or Playwright is not usable here (the message says why)."""


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium browser (NoBrowser when it cannot start)."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as exc:
        raise NoBrowser(f"playwright is not installed (test extra): {exc}") from None
    if not Path(CHROMIUM).exists():
        raise NoBrowser(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
                timeout=60_000,
            )
        except Error as exc:
            raise NoBrowser(f"{CHROMIUM} cannot start: {str(exc).splitlines()[0]}") from None
        try:
            yield browser
        finally:
            browser.close()


def server_url(home: Path) -> str:
    """The embedded server's URL (``server.json`` in its HAI_HOME)."""
    return str(json.loads((home / "server.json").read_text())["url"]).rstrip("/")


def admin_token(home: Path) -> str:
    return (home / "embedded.token").read_text().strip()


def login(page: Any, url: str, token: str) -> None:
    """Log in through the form, as a person would."""
    page.goto(f"{url}/login")
    page.get_by_label("Platform token").fill(token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{url}/")
