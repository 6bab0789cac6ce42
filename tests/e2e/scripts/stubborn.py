"""Ignores suspend notices: must be stopped (SIGTERM, then SIGKILL).

``stubborn.py STEPS [--ignore-term] [--poll] [--then N]``: STEPS steps of 0.1 s, N on a
restart. With ``--poll`` it polls for the notice every step (and then ignores it), so the
platform knows it listens and gives it the whole grace; without, it never polls.
"""

import os
import signal
import sys
import time

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 30
if "--then" in sys.argv and os.environ.get("HAI_RESTART_COUNT", "0") != "0":
    steps = int(sys.argv[sys.argv.index("--then") + 1])
if "--ignore-term" in sys.argv:
    signal.signal(signal.SIGTERM, lambda *_: print("got SIGTERM, ignoring it", flush=True))
print(f"stubborn start restart_count={os.environ['HAI_RESTART_COUNT']}", flush=True)
poll = "--poll" in sys.argv
if poll:
    from hai_cli import runtime
for i in range(steps):
    time.sleep(0.1)
    if poll and runtime.receive_suspend_command():
        print("notice received, ignoring it", flush=True)
        poll = False
    print(f"step {i + 1}", flush=True)
print("stubborn done", flush=True)
