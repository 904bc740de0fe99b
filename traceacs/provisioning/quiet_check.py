"""The quiet periodic check: decided at the Inform, in one pass, by the workflow's rules.

Most sessions of a fleet are a provisioned device's "2 PERIODIC" Inform whose config
has not changed: the ACS answers the Inform, finds nothing to do at the empty POST and
ends the session. The general workflow (`traceacs.provisioning.workflow`) reaches that
verdict step by step across the two POSTs, with its spans, step bookkeeping and task
and preset hand-offs built on the way, and that machinery was most of what such a
session cost. `check_quiet` reaches the same verdict from the same facts at the Inform,
with no I/O beyond the Inform's own inventory write (and the local profile read the
general path would make when the profile has aged out of memory): it is the decision
both paths share, and `QuietVerdict.quiet` says whether the session can be served by
the quiet path (`traceacs.tasks.quiet_first`) instead.

The rules are the workflow's, each written once here and called by the workflow too
(`config_changed`, `inform_facts`, `inform_root_attributes`, `device_step_attributes`):
a session is quiet when its event codes are periodic (``2 PERIODIC``, optionally with
``4 VALUE CHANGE``), the device is known and provisioned, `plan_for_inform` says
CHECK, its profile is at hand (`MemoryProfiles`: in memory or in the local store; a
profile source that would need a BSS request answers "not quiet" instead), no
firmware upgrade is due
and the desired config's ParameterKey is the one pushed and reported. Anything else,
including every error, is "not quiet": the general path then runs and reports it. The
check reads back only the six facts it decides on (`InformedDevice`, via
`DeviceRepository.record_periodic_inform`), not the whole device: a session that is
not quiet records its Inform again in the general path (the same idempotent update,
written behind) and reads the whole device there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

from traceacs.cwmp import messages as m
from traceacs.cwmp.events import BOOT, BOOTSTRAP, PERIODIC, VALUE_CHANGE
from traceacs.profiles.source import ProfileSourceError
from traceacs.provisioning.config_cache import ConfigCache
from traceacs.provisioning.config_types import ConfigBuildError, ConfigTarget
from traceacs.provisioning.device import (
    DATA_MODEL_ROOTS,
    InformedDevice,
    InformFacts,
    ProvisioningState,
)
from traceacs.provisioning.firmware import needs_upgrade
from traceacs.provisioning.policy import Plan, RetryPolicy, plan_for_inform
from traceacs.provisioning.profile import ServiceProfile
from traceacs.provisioning.repository import DeviceRepository, RepositoryError
from traceacs.provisioning.session_trace import AttributeValue

SOFTWARE_VERSION: Final = ".SoftwareVersion"
PARAMETER_KEY: Final = ".ManagementServer.ParameterKey"
CONNECTION_REQUEST_URL: Final = ".ConnectionRequestURL"
_REPORTED: Final = (SOFTWARE_VERSION, PARAMETER_KEY, CONNECTION_REQUEST_URL)

QUIET_EVENT_SETS: Final = frozenset({frozenset({PERIODIC}), frozenset({PERIODIC, VALUE_CHANGE})})
"""The event codes of an Inform that may open a quiet session; any other event (a boot,
a transfer report, a connection request of ours, ...) has work of its own."""


@runtime_checkable
class MemoryProfiles(Protocol):
    """A profile source that keeps profiles in memory and reads them locally
    (`EmbeddedProfileSource`): a quiet check may ask it, where asking a BSS would put
    a remote call (and, when it fails, a second one in the general path) in front of
    every periodic session."""

    def cached(self, customer_id: str, service_plan: str) -> ServiceProfile | None:
        """The profile ``fetch`` would return, when memory alone can tell; None when
        finding it needs a read (or there is none: ``fetch`` reports that)."""
        ...

    async def fetch(self, customer_id: str, service_plan: str) -> ServiceProfile:
        """The profile (`ProfileSource.fetch`), read from the local store if need be."""
        ...


@dataclass(frozen=True, slots=True)
class QuietVerdict:
    """What `check_quiet` found.

    A quiet verdict carries what its session records (the fields below); every other
    answer is `NOT_QUIET`. A session that is not quiet goes the general way, which
    records the Inform itself (the update is idempotent) and reads the whole device.
    """

    quiet: bool
    device: InformedDevice | None = None
    """What the check read of the device when it recorded the Inform
    (`DeviceRepository.record_periodic_inform`)."""
    profile: ServiceProfile | None = None
    """The profile a quiet session checked its config against (its trace's
    ``fetch_profile`` step reports it)."""
    recorded_at: float = 0.0
    """When the inventory read ended (the ``authenticate`` step's end, and the start of
    the profile lookup)."""
    checked_at: float = 0.0
    """When the check ended (the ``fetch_profile`` step's end)."""
    reports: Mapping[str, str] | None = None
    """The Inform's `reported_values`, read by the check."""


NOT_QUIET: Final = QuietVerdict(quiet=False)


def reported_values(inform: m.Inform) -> dict[str, str]:
    """The values the workflow reads from the Inform, by name suffix (``_REPORTED``):
    the first parameter whose name ends with each; found in one pass. Most names end
    with none of them: one ``endswith`` of all suffixes at once (a loop in C) skips
    those, instead of a Python-level test per suffix."""
    found: dict[str, str] = {}
    for parameter in inform.parameters:
        name = parameter.name
        if name.endswith(_REPORTED):
            for suffix in _REPORTED:
                if name.endswith(suffix) and suffix not in found:
                    found[suffix] = str(parameter.value)
    return found


def inform_facts(inform: m.Inform, reports: Mapping[str, str], codes: Sequence[str]) -> InformFacts:
    """What the Inform tells the inventory (recorded at every Inform)."""
    root = next(
        (r for r in DATA_MODEL_ROOTS for p in inform.parameters if p.name.startswith(r)),
        None,
    )
    return InformFacts(
        manufacturer=inform.device_id.manufacturer,
        model=inform.device_id.product_class,
        firmware_version=reports.get(SOFTWARE_VERSION),
        data_model_root=root,
        connection_request_url=reports.get(CONNECTION_REQUEST_URL),
        is_boot=BOOT in codes or BOOTSTRAP in codes,
    )


def inform_root_attributes(
    inform: m.Inform, reports: Mapping[str, str], codes: Sequence[str], session_id: str
) -> dict[str, AttributeValue]:
    """The attributes of a session's root ``cpe.inform`` span (the seed's, and the
    session id)."""
    device_id = inform.device_id
    return {
        "cpe.serial_number": device_id.serial_number,
        "cpe.oui": device_id.oui,
        "cpe.manufacturer": device_id.manufacturer,
        "cpe.model": device_id.product_class,
        "cpe.firmware_version": reports.get(SOFTWARE_VERSION) or "",
        "cpe.event_codes": ",".join(codes),
        "cwmp.session.id": session_id,
    }


class CustomerFacts(Protocol):
    """Whose device it is: a `Device` or an `InformedDevice`."""

    @property
    def customer_id(self) -> str: ...

    @property
    def service_plan(self) -> str: ...

    @property
    def location_id(self) -> str: ...


def device_step_attributes(device: CustomerFacts) -> dict[str, AttributeValue]:
    """What the ``authenticate`` step's span says of the device it found."""
    return {
        "cpe.customer_id": device.customer_id,
        "cpe.service_plan": device.service_plan,
        "cpe.location_id": device.location_id,
    }


def config_changed(pushed_key: str | None, config_key: str, reported_key: str | None) -> bool:
    """Whether the desired config (its ParameterKey ``config_key``) must be pushed: it
    is not the one last pushed (``pushed_key``), or the device reports another one."""
    if pushed_key != config_key:
        return True
    return reported_key is not None and reported_key != config_key


async def check_quiet(
    inform: m.Inform,
    codes: tuple[str, ...],
    now: float,
    *,
    repository: DeviceRepository,
    profiles: MemoryProfiles,
    configs: ConfigCache,
    retry: RetryPolicy,
    clock: Callable[[], float],
) -> QuietVerdict:
    """Whether this Inform's session is quiet (see the module docstring).

    Records the Inform in the inventory when its codes allow a quiet session (the
    general path records it again when the session is not quiet). ``clock`` measures
    the steps' times for the trace (``now`` plus what it measured since the start).
    """
    if frozenset(codes) not in QUIET_EVENT_SETS:
        return NOT_QUIET  # before anything else: most sessions that are not quiet stop here
    mark = clock()
    reports = reported_values(inform)
    device_id = inform.device_id
    try:
        device = await repository.record_periodic_inform(
            device_id.oui, device_id.serial_number, now, inform_facts(inform, reports, codes)
        )
    except RepositoryError:
        return NOT_QUIET  # the general path records it and reports the failure
    if device is None:
        return NOT_QUIET
    recorded_at = now + (clock() - mark)
    profile = await _quiet_profile(inform, codes, now, device, reports, profiles, configs, retry)
    if profile is None:
        return NOT_QUIET
    return QuietVerdict(
        quiet=True,
        device=device,
        profile=profile,
        recorded_at=recorded_at,
        checked_at=now + (clock() - mark),
        reports=reports,
    )


async def _quiet_profile(
    inform: m.Inform,
    codes: tuple[str, ...],
    now: float,
    device: InformedDevice,
    reports: Mapping[str, str],
    profiles: MemoryProfiles,
    configs: ConfigCache,
    retry: RetryPolicy,
) -> ServiceProfile | None:
    """The profile a recorded device's quiet session checks against; None: not quiet."""
    if device.state is not ProvisioningState.PROVISIONED:
        return None
    reported_key = reports.get(PARAMETER_KEY)
    if plan_for_inform(device, codes, reported_key, now=now, retry=retry) is not Plan.CHECK:
        return None
    profile = profiles.cached(device.customer_id, device.service_plan)
    if profile is None:  # aged out of memory (or none): read it, as the general path would
        try:
            profile = await profiles.fetch(device.customer_id, device.service_plan)
        except ProfileSourceError:
            return None  # the general path fetches again and reports it
    target = profile.firmware_for(inform.device_id.product_class)
    if needs_upgrade(target, reports.get(SOFTWARE_VERSION)):
        return None
    try:
        config = configs.get(profile, ConfigTarget.from_inform(inform))
    except ConfigBuildError:
        return None
    if config_changed(device.parameter_key, config.parameter_key, reported_key):
        return None
    return profile
