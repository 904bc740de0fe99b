"""The device inventory and attempt history: SQLite (embedded) and PostgreSQL.

Use `open_repository(url)`; it returns a `DeviceRepository` (see
`traceacs.provisioning.repository`) with the schema migrated.
"""

from traceacs.storage.open import open_database, open_repository
from traceacs.storage.repository import SqlDeviceRepository

__all__ = ["SqlDeviceRepository", "open_database", "open_repository"]
