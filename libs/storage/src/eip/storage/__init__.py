"""PostgreSQL for every service: connection pool, ordered migrations, time-partitioned tables."""

from eip.storage.migrations import MigrationError, apply_migrations
from eip.storage.partitions import ensure_time_partitions
from eip.storage.pool import DatabaseUnavailable, open_pool, redact_dsn

__all__ = [
    "DatabaseUnavailable",
    "MigrationError",
    "apply_migrations",
    "ensure_time_partitions",
    "open_pool",
    "redact_dsn",
]
