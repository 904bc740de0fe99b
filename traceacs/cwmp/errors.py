"""The exception tree of the CWMP core.

Everything the core raises derives from `CwmpError`, so an adapter can catch one type.
Messages are written for an operator's log: they name the element or field at fault,
never the text it carried (a Download password or a Wi-Fi key may be in there).

    CwmpError
    ├── CwmpParseError      bytes in, no usable envelope out (answer with a CWMP fault)
    ├── CwmpSerializeError  a message that cannot be written as XML 1.0 (a bug upstream)
    └── ProtocolError       an illegal move of the session state machine
"""

from __future__ import annotations

FAULT_METHOD_NOT_SUPPORTED = 8000
FAULT_INVALID_ARGUMENTS = 8003
FAULT_RESOURCES_EXCEEDED = 8004


class CwmpError(Exception):
    """Base of every error raised by `traceacs.cwmp`."""


class CwmpParseError(CwmpError):
    """An envelope that cannot be turned into a message.

    ``fault_code`` is the ACS fault to answer with: 8003 (invalid arguments) for
    malformed or hostile XML and bad values, 8000 (method not supported) for an RPC
    the ACS does not know, 8004 (resources exceeded) for an envelope over the size cap.
    ``cwmp_id`` and ``namespace`` are filled in when the envelope got far enough to
    reveal them, so the fault can echo the ``cwmp:ID`` in the CPE's own namespace.
    """

    def __init__(
        self,
        message: str,
        *,
        fault_code: int = FAULT_INVALID_ARGUMENTS,
        cwmp_id: str | None = None,
        namespace: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fault_code = fault_code
        self.cwmp_id = cwmp_id
        self.namespace = namespace


class CwmpSerializeError(CwmpError, ValueError):
    """A message holds text XML 1.0 cannot carry (control characters, lone surrogates).

    Raised instead of writing an envelope no CPE could parse; the value is not quoted.
    """


class ProtocolError(CwmpError):
    """A message or action that is illegal in the current CWMP session state.

    Raised by `traceacs.cwmp.session` (e.g. an RPC before the Inform, a second Inform,
    a response to a request never sent); the message names the state and the move.
    """
