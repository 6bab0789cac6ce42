"""Fixtures of the end-to-end tests; the helpers live in e2e_helpers (a unique module name)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))  # conftest_pg
sys.path.insert(0, str(Path(__file__).parent))

from e2e_helpers import database, platform, platform2  # noqa: F401
