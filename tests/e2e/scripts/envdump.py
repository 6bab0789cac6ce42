"""Prints the platform variables a rank receives as one JSON line."""

import json
import os

keys = [
    "WORLD_SIZE",
    "RANK",
    "NODE_RANK",
    "MASTER_ADDR",
    "MASTER_PORT",
    "LOCAL_WORLD_SIZE",
    "HAI_TASK_ID",
    "HAI_TASK_NAME",
    "HAI_USER",
    "HAI_RESTART_COUNT",
    "HAI_WHOLE_LIFE_STATE",
    "HAI_LOG_DIR",
    "HAI_CONTROL_DIR",
    "CUDA_VISIBLE_DEVICES",
    "MY_VAR",
    "HAI_TOKEN",
]
print("ENV " + json.dumps({k: os.environ.get(k) for k in keys}), flush=True)
