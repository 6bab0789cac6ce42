"""Hangs silently on its first attempt (the watchdog's prey).

``hang.py silent``: prints one line, then sleeps silently for 120 s on attempt 0 (finishes on
a restart). ``hang.py code``: the same, after set_watchdog_time(1) from code. ``hang.py
chatty``: prints every 0.2 s for 3 s (never silent long enough to be called hung).
"""

import sys
import time

from hai_cli import runtime

mode = sys.argv[1] if len(sys.argv) > 1 else "silent"
attempt = runtime.restart_count()
print(f"attempt {attempt} starts", flush=True)
if mode == "code":
    runtime.set_watchdog_time(1)
if mode == "chatty":
    for i in range(15):
        print(f"step {i}", flush=True)
        time.sleep(0.2)
elif attempt == 0:
    time.sleep(120)
print("done", flush=True)
