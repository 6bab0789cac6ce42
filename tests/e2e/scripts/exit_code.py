"""Exits with the code given (rank-specific codes with --rank-codes 0,7)."""

import os
import sys
import time

codes = sys.argv[1].split(",")
rank = int(os.environ.get("RANK", "0"))
code = int(codes[rank] if rank < len(codes) else codes[-1])
print(f"rank {rank} exiting with {code}", flush=True)
if code == 0 and len(codes) > 1:
    time.sleep(30)  # a healthy sibling keeps running until the platform stops it
sys.exit(code)
