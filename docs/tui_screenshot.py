"""Regenerate docs/tui.svg: the TUI on demo data, all users, a queued task selected.

python docs/tui_screenshot.py [OUT.svg]
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from hai_cli.tui.app import build_app
from hai_cli.tui.demo import NOW, DemoClient


async def shoot(out: Path) -> None:
    app = build_app(DemoClient(40), clock=lambda: NOW, live=False)
    async with app.run_test(size=(120, 40)) as pilot:
        while app.updates == 0:
            await pilot.pause(0.02)
        for key in ("m", "down"):
            await pilot.press(key)
            await pilot.pause(0.1)
            await app.workers.wait_for_complete()
        await pilot.pause(0.2)
        app.save_screenshot(filename=out.name, path=str(out.parent))


if __name__ == "__main__":
    os.environ["TZ"] = "UTC"
    time.tzset()
    target = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).with_name("tui.svg"))
    asyncio.run(shoot(target.absolute()))
    print(target)
