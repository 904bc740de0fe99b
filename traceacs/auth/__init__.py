"""Who may call the REST API: API tokens (stored hashed) and the audit log of writes.

Plain values and ports only (no aiohttp, no SQL): the storage package implements
`TokenStore` and `AuditLog`; the API and the ``traceacs tokens`` command use them.
"""
