"""Records each run in a shared marker file (one line per start, one per finish) so a test
can tell that no task ran twice or was lost: ``once.py MARKER SECONDS``."""

import os
import sys
import time

marker, seconds = sys.argv[1], float(sys.argv[2])
me = f"{os.environ['HAI_TASK_ID']} {os.environ['HAI_RESTART_COUNT']}"
with open(marker, "a") as f:
    f.write(f"start {me}\n")
time.sleep(seconds)
with open(marker, "a") as f:
    f.write(f"done {me}\n")
print("finished", flush=True)
