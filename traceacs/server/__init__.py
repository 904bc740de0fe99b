"""aiohttp adapters: the CWMP endpoint, connection requests, the REST API and console."""
