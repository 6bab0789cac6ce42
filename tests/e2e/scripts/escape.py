"""A rank that leaves a process behind in a new session (setsid), ignoring SIGTERM, and then
either exits at once (``exit``) or runs until it is stopped (``stay``). It prints the
escapee's pid so the test can check that nothing outlives the task."""

import os
import signal
import sys
import time

mode = sys.argv[1]
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:  # a daemon: re-parented away from the rank's command
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print(f"escapee {os.getpid()} pgid {os.getpgid(0)}", flush=True)
        time.sleep(600)
    os._exit(0)
time.sleep(0.5)
print(f"main {os.getpid()} pgid {os.getpgid(0)}", flush=True)
if mode == "stay":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # deaf: only the kill ends it
    time.sleep(600)
print("main exits", flush=True)
