"""The result classes of a provisioning attempt (the ``result`` of ``cpe.provision.count``).

The seed's five, plus the failure classes TraceACS tells apart where the seed did not:
a BSS that cannot answer is not a missing profile, and a config that cannot be built
for the device's data model is not a CPE fault. A firmware upgrade that fails (the CPE
refused the Download, reported a fault in TransferComplete, never completed, or came back
on another version) is ``firmware_failed``, with the CPE's fault code when it gave one.
"""

from __future__ import annotations

from typing import Final


class Result:
    SUCCESS: Final = "success"
    UNKNOWN_DEVICE: Final = "unknown_device"
    NO_PROFILE: Final = "no_profile"
    CONFIG_PUSH_FAILED: Final = "config_push_failed"
    VERIFICATION_FAILED: Final = "verification_failed"
    BSS_UNAVAILABLE: Final = "bss_unavailable"
    CONFIG_INVALID: Final = "config_invalid"
    FIRMWARE_FAILED: Final = "firmware_failed"
    PROTOCOL_ERROR: Final = "protocol_error"
    SESSION_ABORTED: Final = "session_aborted"
    SESSION_ABANDONED: Final = "session_abandoned"
    """One of the ``session_<reason>`` results of an attempt whose CWMP session ended
    mid-step (`SessionEndReason`): here the CPE rebooted or dropped and started over."""
    EXPIRED: Final = "expired"
