"""Alembic migrations of the platform's record (SQLite and PostgreSQL)."""
