"""HAI Platform server: API, scheduler, reconciler and backends."""
