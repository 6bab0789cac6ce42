"""A training loop written for the original HAI Platform, unchanged: its import path
(``hfai.client``), its arguments (``timeout=``, ``raise_exception=``) and its variables
(``MARSV2_*``, ``MASTER_IP``). Usage: original_sdk.py STEPS STEP_SECONDS."""

import os
import sys
import time

import hfai.client
from hfai.client import (
    get_whole_life_state,
    go_suspend,
    receive_suspend_command,
    set_whole_life_state,
)

steps, step_s = int(sys.argv[1]), float(sys.argv[2])
hfai.client.set_watchdog_time(900)
hfai.client.set_priority(hfai.client.EXP_PRIORITY.BELOW_NORMAL)
start = get_whole_life_state()
with open(os.path.join(os.environ["HAI_CONTROL_DIR"], "watchdog_s")) as fh:
    watchdog = fh.read().strip()
print(
    f"start={start} rank={os.environ['MARSV2_RANK']} master={os.environ['MASTER_IP']} "
    f"task={os.environ['MARSV2_TASK_ID']} name={os.environ['MARSV2_NB_NAME']} "
    f"type={os.environ['MARSV2_TASK_TYPE']} state_env={os.environ['MARSV2_WHOLE_LIFE_STATE']} "
    f"log={os.path.basename(os.environ['MARSV2_LOG_FILE_PATH'])} "
    f"watchdog_file={watchdog}",
    flush=True,
)
for step in range(start, steps):
    time.sleep(step_s)
    if receive_suspend_command(timeout=500, raise_exception=True):
        set_whole_life_state(step + 1)
        print(f"suspending at step {step + 1}", flush=True)
        go_suspend()
print(f"finished {steps}", flush=True)
