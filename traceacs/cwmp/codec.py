"""The SOAP codec of CWMP: `parse_envelope` and `serialize_envelope`.

Sans-IO: bytes in, `Envelope` out, and back. The two directions live in
`traceacs.cwmp.parse` and `traceacs.cwmp.serialize`, both driven by the element table
in `traceacs.cwmp.rpc_schema`; import from here.
"""

from __future__ import annotations

from traceacs.cwmp.parse import DEFAULT_MAX_ENVELOPE_BYTES, parse_envelope
from traceacs.cwmp.serialize import serialize_envelope

__all__ = ["DEFAULT_MAX_ENVELOPE_BYTES", "parse_envelope", "serialize_envelope"]
