"""The scale-out tests use the storage suite's PostgreSQL fixtures (fresh database)."""

from tests.storage.conftest import pg_database, pg_user

__all__ = ["pg_database", "pg_user"]
