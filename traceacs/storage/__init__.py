"""The device inventory and attempt history: SQLite (embedded) and PostgreSQL."""
