"""Firmware upgrades inside provisioning: what is decided, with no I/O and no clock.

A model's target firmware (`FirmwareTarget` in the service profile) is installed by a
Download the CPE carries out *after* the session: it fetches the image, reboots, and
reports in a later session ("1 BOOT" + "7 TRANSFER COMPLETE" + "M Download" and a
TransferComplete request). The attempt stays open in between, and what the workflow
must remember lives in the attempt's row, as `FirmwareTransfer` (plain JSON in the
attempt's details), never in process memory: the next session may reach another ACS
process, hours later.

The Download's URL carries a per-file access token; it is handed to the CPE and to
nothing else (not to spans, logs or the attempt row).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final, Protocol

from traceacs.cwmp import messages as m
from traceacs.provisioning.profile import FirmwareTarget

FIRMWARE_FILE_TYPE: Final = "1 Firmware Upgrade Image"
COMMAND_KEY_PREFIX: Final = "traceacs-fw-"
"""CommandKeys of provisioning's firmware Downloads (tasks use their own prefix)."""
DETAILS_KEY: Final = "firmware"
"""Where the transfer is kept in the attempt's details."""
DEFAULT_FIRMWARE_TIMEOUT: Final = 1800.0


class FirmwareFiles(Protocol):
    """Where a CPE fetches a stored image (`traceacs.tasks.transfer_urls.FileStoreUrls`)."""

    async def download(self, file_name: str, now: float) -> tuple[str, int] | None:
        """``(url with access token, size)`` of a stored file, or None when there is no
        such file (or no URL CPEs can reach it at)."""
        ...


def command_key_for(attempt_id: int) -> str:
    """The CommandKey naming one attempt's Download (at most 32 characters)."""
    return f"{COMMAND_KEY_PREFIX}{attempt_id}"


def needs_upgrade(target: FirmwareTarget | None, reported_version: str | None) -> bool:
    """Whether a CPE reporting ``reported_version`` must be moved to ``target``."""
    return target is not None and reported_version != target.version


def download_for(command_key: str, url: str, size: int) -> m.Download:
    return m.Download(
        command_key=command_key, file_type=FIRMWARE_FILE_TYPE, url=url, file_size=size
    )


@dataclass(frozen=True, slots=True)
class FirmwareTransfer:
    """A firmware Download the CPE accepted and has not reported on yet."""

    command_key: str
    file: str
    file_size: int
    target_version: str
    from_version: str
    sent_at: float
    timeout_s: float

    @property
    def deadline(self) -> float:
        return self.sent_at + self.timeout_s

    def timeout_reason(self) -> str:
        return f"firmware download timed out after {self.timeout_s:g} s"

    def to_details(self) -> dict[str, Any]:
        return {DETAILS_KEY: asdict(self)}

    @classmethod
    def from_details(cls, details: Any) -> FirmwareTransfer | None:
        """The transfer recorded in an attempt's details, or None (not a firmware wait,
        or details written by something else)."""
        if not isinstance(details, dict) or not isinstance(details.get(DETAILS_KEY), dict):
            return None
        raw = details[DETAILS_KEY]
        try:
            return cls(
                command_key=str(raw["command_key"]),
                file=str(raw["file"]),
                file_size=int(raw["file_size"]),
                target_version=str(raw["target_version"]),
                from_version=str(raw["from_version"]),
                sent_at=float(raw["sent_at"]),
                timeout_s=float(raw["timeout_s"]),
            )
        except (KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True, slots=True)
class FirmwareVerdict:
    """Why a transfer failed (``None`` verdicts mean it succeeded)."""

    message: str
    fault_code: int | None = None
    fault_string: str | None = None


def judge_transfer(
    transfer: FirmwareTransfer, done: m.TransferComplete, reported_version: str | None
) -> FirmwareVerdict | None:
    """The CPE reported its Download: did the upgrade work?

    A fault in the TransferComplete is the CPE's word (9018 corrupt image, 9010
    download failure, ...). Without one, the CPE must now run the target version,
    which the Inform of this (post-reboot) session reports.
    """
    code = done.fault.fault_code
    if code != 0:
        text = done.fault.fault_string or "no fault string"
        return FirmwareVerdict(
            f"firmware download failed: fault {code} ({text})", code, done.fault.fault_string
        )
    if reported_version != transfer.target_version:
        running = reported_version if reported_version is not None else "an unknown version"
        return FirmwareVerdict(
            f"still running {running} after upgrade to {transfer.target_version}"
        )
    return None
