"""The PostgreSQL fixtures of the storage suite, for the reliability tests that need one."""

from tests.storage.conftest import pg_database, pg_user

__all__ = ["pg_database", "pg_user"]
