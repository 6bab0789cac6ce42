"""Prints which haienv a rank runs in, and whether it can import the test packages."""

import os
import sys


def where(name: str) -> str:
    try:
        return __import__(name).__file__
    except ImportError:
        return "none"


rank = os.environ.get("RANK")
env = os.environ.get("HF_ENV_NAME", "none")
print(f"PROBE rank={rank} env={env} prefix={sys.prefix} "
      f"own={where('hai_ownpkg')} base={where('hai_basepkg')}", flush=True)  # fmt: skip
