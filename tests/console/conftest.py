"""The API harness of tests/api (a served API app over SQLite and PostgreSQL) for the
console's non-browser tests, and the engine fixtures for the browser test."""

from tests.api.conftest import api, repo
from tests.storage.conftest import pg_database, pg_user, store_url

__all__ = ["api", "pg_database", "pg_user", "repo", "store_url"]
