"""The API harness of tests/api (a served API app over SQLite in tmp_path) for the
console's non-browser tests."""

from tests.api.conftest import api, repo

__all__ = ["api", "repo"]
