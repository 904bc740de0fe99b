"""Adapters: the CWMP endpoint (on `http11`, no aiohttp), connection requests, files, the
REST API and console (aiohttp)."""
