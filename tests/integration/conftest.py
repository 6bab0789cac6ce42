"""Integration tests run on SQLite and on PostgreSQL (``db_url``, from conftest_pg)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from conftest_pg import db_url  # noqa: F401
