"""Inform event codes (TR-069 Table "Inform Event codes").

Numbered codes ("1 BOOT") say why a session opens; "M <method>" codes say which earlier
ACS request (identified by its CommandKey) has completed. Vendors add "X <OUI> <name>".
"""

from __future__ import annotations

BOOTSTRAP = "0 BOOTSTRAP"
BOOT = "1 BOOT"
PERIODIC = "2 PERIODIC"
SCHEDULED = "3 SCHEDULED"
VALUE_CHANGE = "4 VALUE CHANGE"
KICKED = "5 KICKED"
CONNECTION_REQUEST = "6 CONNECTION REQUEST"
TRANSFER_COMPLETE = "7 TRANSFER COMPLETE"
DIAGNOSTICS_COMPLETE = "8 DIAGNOSTICS COMPLETE"
REQUEST_DOWNLOAD = "9 REQUEST DOWNLOAD"
AUTONOMOUS_TRANSFER_COMPLETE = "10 AUTONOMOUS TRANSFER COMPLETE"
DU_STATE_CHANGE_COMPLETE = "11 DU STATE CHANGE COMPLETE"
AUTONOMOUS_DU_STATE_CHANGE_COMPLETE = "12 AUTONOMOUS DU STATE CHANGE COMPLETE"
WAKEUP = "13 WAKEUP"

M_REBOOT = "M Reboot"
M_SCHEDULE_INFORM = "M ScheduleInform"
M_DOWNLOAD = "M Download"
M_SCHEDULE_DOWNLOAD = "M ScheduleDownload"
M_UPLOAD = "M Upload"
M_CHANGE_DU_STATE = "M ChangeDUState"

STANDARD_EVENT_CODES: tuple[str, ...] = (
    BOOTSTRAP,
    BOOT,
    PERIODIC,
    SCHEDULED,
    VALUE_CHANGE,
    KICKED,
    CONNECTION_REQUEST,
    TRANSFER_COMPLETE,
    DIAGNOSTICS_COMPLETE,
    REQUEST_DOWNLOAD,
    AUTONOMOUS_TRANSFER_COMPLETE,
    DU_STATE_CHANGE_COMPLETE,
    AUTONOMOUS_DU_STATE_CHANGE_COMPLETE,
    WAKEUP,
    M_REBOOT,
    M_SCHEDULE_INFORM,
    M_DOWNLOAD,
    M_SCHEDULE_DOWNLOAD,
    M_UPLOAD,
    M_CHANGE_DU_STATE,
)

SINGLE_EVENTS: frozenset[str] = frozenset(
    {BOOTSTRAP, BOOT, PERIODIC, SCHEDULED, KICKED, CONNECTION_REQUEST, WAKEUP}
)
"""Codes that appear at most once per Inform and are discarded once delivered."""


def is_method_event(code: str) -> bool:
    """True for "M <method>" codes, which carry the CommandKey of the ACS request."""
    return code.startswith("M ")


def is_vendor_event(code: str) -> bool:
    return code.startswith("X ")
