"""Helpers and fixtures shared by the test suite (loaded by tests/conftest.py)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
