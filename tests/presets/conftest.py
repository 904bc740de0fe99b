"""The storage suite's two-engine fixtures (``store_url``, ``repo``), reused here."""

from tests.storage.conftest import pg_database, pg_user, repo, store_url

__all__ = ["pg_database", "pg_user", "repo", "store_url"]
