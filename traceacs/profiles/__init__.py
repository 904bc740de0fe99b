"""Service-profile sources of the BSS/OSS: embedded and HTTP.

- ``source``: the ``ProfileSource`` port and its errors (``ProfileNotFound``,
  ``ProfileSourceUnavailable``) -- what the workflow imports.
- ``document``: the JSON/YAML document format of a profile, with validation.
- ``embedded``: profiles in the inventory database; YAML/JSON file import.
- ``http``: a BSS over HTTP, with timeout, retries and a ``circuit_breaker``.

Nothing is re-exported here on purpose: importing ``traceacs.profiles.source`` must not
pull in aiohttp (the provisioning layer depends on the port, not on the adapters).
"""
