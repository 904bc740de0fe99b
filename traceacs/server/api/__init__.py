"""The REST API (aiohttp, JSON): devices, inventory, profiles, attempts, fleet summary.

`make_api_application(context)` builds the application; `traceacs.app.build_api_app`
wires it from the settings and the repository. Every route needs an API token
(``Authorization: Bearer``) except the OpenAPI document at ``/api/openapi.json``.
"""

from traceacs.server.api.application import make_api_application
from traceacs.server.api.context import ApiContext

__all__ = ["ApiContext", "make_api_application"]
