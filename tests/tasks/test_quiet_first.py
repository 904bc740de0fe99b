"""`QuietFirstSession`: quiet when it can be, the general handler otherwise.

The handlers are driven in process, call by call, as `CwmpEndpoint` drives them, on a
copy of an inventory in which the fleet of `tests.provisioning.test_quiet_session` was
bootstrapped (real SQLite, real provisioning, tasks and presets). Where a case has a
general counterpart, the same calls go to an ACS built with ``quiet_sessions=False``
and everything the CPE and telemetry see must be equal.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.provisioning.test_quiet_session import (
    PERIODIC,
    PROFILE_CACHE_SECONDS,
    ROLES,
    T0,
    RecordingTelemetry,
    SamplingTelemetry,
    bootstrapped,
    copy_db,
    shape,
)
from traceacs.assembly import INFORM_WRITE_BEHIND_SECONDS
from traceacs.cwmp import messages as m
from traceacs.presets.applier import PresetApplier
from traceacs.profiles.embedded import EmbeddedProfileSource
from traceacs.profiles.source import ProfileSource
from traceacs.provisioning.profile import ServiceProfile
from traceacs.provisioning.quiet_session import QuietSession
from traceacs.provisioning.session_handler import SessionEndReason, SessionHandler
from traceacs.provisioning.trace_recorder import to_ns
from traceacs.provisioning.workflow import ProvisioningHandlerFactory
from traceacs.simulator.cpe import SimulatedCpe
from traceacs.simulator.fleet import Fleet
from traceacs.storage import SqlDeviceRepository, open_repository
from traceacs.storage.presets import SqlPresetStore
from traceacs.storage.tags import SqlTagStore
from traceacs.storage.tasks import SqlTaskStore
from traceacs.tasks.composite import CompositeHandlerFactory, CompositeSessionHandler
from traceacs.tasks.quiet_first import QuietFirstSession
from traceacs.tasks.runner import TaskHandlerFactory

QUIET = ROLES.index("quiet")
"""The device of the fleet that is provisioned and informs periodically."""


@dataclass
class Base:
    db: Path
    fleet: Fleet


@pytest.fixture
async def base(tmp_path: Path) -> Base:
    db, the_fleet = await bootstrapped(tmp_path)
    return Base(db, the_fleet)


class Bss:
    """A profile source without `cached` (the HTTP BSS has none): answers by reading."""

    def __init__(self, inner: EmbeddedProfileSource) -> None:
        self.inner = inner
        self.fetches = 0

    async def fetch(self, customer_id: str, service_plan: str) -> ServiceProfile:
        self.fetches += 1
        return await self.inner.fetch(customer_id, service_plan)


@dataclass
class Acs:
    repo: SqlDeviceRepository
    factory: CompositeHandlerFactory
    telemetry: RecordingTelemetry
    presets: PresetApplier
    profiles: EmbeddedProfileSource
    bss: Bss | None
    quiet_sessions: list[str] = field(default_factory=list)
    """The sessions `ProvisioningHandlerFactory.quiet_session` served quiet."""
    sessions: int = 0


@asynccontextmanager
async def acs(
    tmp_path: Path,
    base: Base,
    name: str,
    *,
    quiet: bool = True,
    telemetry: RecordingTelemetry | None = None,
    bss: bool = False,
) -> AsyncIterator[Acs]:
    """An ACS on a copy of the base inventory, wired as `build_task_wiring` wires one."""
    db = copy_db(base.db, tmp_path / f"{name}.db")
    repo = await open_repository(f"sqlite:///{db}", inform_write_behind=INFORM_WRITE_BEHIND_SECONDS)
    try:
        recording = telemetry if telemetry is not None else RecordingTelemetry()
        embedded = EmbeddedProfileSource(repo, max_age=PROFILE_CACHE_SECONDS)
        the_bss = Bss(embedded) if bss else None
        profiles: ProfileSource = the_bss or embedded
        provisioning = ProvisioningHandlerFactory(repo, profiles, recording)
        store = SqlTaskStore(repo.db, repo.secrets)
        presets = PresetApplier(
            SqlPresetStore(repo.db, repo.secrets),
            SqlTagStore(repo.db),
            store,
            refresh_seconds=PROFILE_CACHE_SECONDS,
        )
        factory = CompositeHandlerFactory(
            provisioning,
            TaskHandlerFactory(store, telemetry=recording),
            None,
            presets,
            quiet_sessions=quiet,
        )
        the_acs = Acs(repo, factory, recording, presets, embedded, the_bss)
        quiet_session = provisioning.quiet_session

        def counted(session_id: str, *args: Any) -> QuietSession:
            the_acs.quiet_sessions.append(session_id)
            return quiet_session(session_id, *args)

        provisioning.quiet_session = counted  # type: ignore[method-assign, assignment]
        yield the_acs
    finally:
        await repo.close()


def inform_of(cpe: SimulatedCpe, codes: Sequence[str], when: float) -> m.Inform:
    envelope = cpe.build_inform(datetime.fromtimestamp(when, UTC))
    assert isinstance(envelope.body, m.Inform)
    return dataclasses.replace(envelope.body, events=tuple(m.EventStruct(c) for c in codes))


@dataclass
class Driven:
    """What one session showed the CPE, and how telemetry stood meanwhile."""

    answers: list[m.Message | None]
    handler: SessionHandler
    active_during: int
    quiet: bool


async def drive(
    the_acs: Acs,
    cpe: SimulatedCpe,
    when: float,
    *,
    codes: Sequence[str] = PERIODIC,
    cpe_requests: Sequence[m.Message] = (),
    stray_response: m.Message | None = None,
    later: float = 0.0,
) -> Driven:
    """One session, as the endpoint drives its handler: the Inform, the CPE's requests,
    the empty POST (``next_acs_request``), the CPE's answers, the end; the POSTs after
    the Inform come ``later`` seconds after it."""
    the_acs.sessions += 1
    session_id = f"session-{the_acs.sessions}"
    handler = the_acs.factory.new_session(session_id)
    answers: list[m.Message | None] = [await handler.on_inform(inform_of(cpe, codes, when), when)]
    active = the_acs.telemetry.active
    when += later
    if isinstance(answers[0], m.InformResponse):
        for request in cpe_requests:
            answers.append(await handler.on_cpe_request(request, when))
            active = the_acs.telemetry.active
        if stray_response is not None:
            await handler.on_cpe_response(stray_response, when)
        rpc = await handler.next_acs_request(when)
        while rpc is not None:
            answers.append(rpc)
            await handler.on_cpe_response(cpe.handle(rpc, datetime.fromtimestamp(when, UTC)), when)
            rpc = await handler.next_acs_request(when)
        answers.append(None)
    await handler.on_session_end("completed", when)
    return Driven(answers, handler, active, session_id in the_acs.quiet_sessions)


def transfer_complete(command_key: str) -> m.TransferComplete:
    at = datetime.fromtimestamp(T0, UTC)
    return m.TransferComplete(command_key, m.FaultStruct(0, ""), at, at)


# ---------------------------------------------------------------------- turned general


@pytest.mark.parametrize(
    "request_",
    [m.GetRPCMethods(), transfer_complete("not-ours"), transfer_complete("")],
    ids=["GetRPCMethods", "TransferComplete", "TransferComplete-empty-key"],
)
async def test_a_cpe_request_turns_a_quiet_session_general_with_the_general_answers(
    tmp_path: Path, base: Base, request_: m.Message
) -> None:
    results = {}
    for quiet in (True, False):
        name = "quiet" if quiet else "general"
        async with acs(tmp_path, base, name, quiet=quiet) as the_acs:
            cpe = copy.deepcopy(base.fleet.cpes[QUIET])
            warm = await drive(the_acs, cpe, T0 + 60)  # loads presets and the profile
            assert not warm.quiet
            turned = await drive(the_acs, cpe, T0 + 120, cpe_requests=[request_], later=5.0)
            after = await drive(the_acs, cpe, T0 + 180)
            device = await the_acs.repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
            results[name] = (the_acs, turned, after, device)

    quiet_acs, quiet_turned, quiet_after, quiet_device = results["quiet"]
    general_acs, general_turned, general_after, general_device = results["general"]
    assert quiet_turned.quiet  # it began quiet...
    assert isinstance(quiet_turned.handler, QuietFirstSession)
    assert quiet_after.quiet  # ...and the next session is quiet again
    assert not general_turned.quiet

    # what the CPE saw
    assert quiet_turned.answers == general_turned.answers
    answer_type = (
        m.GetRPCMethodsResponse
        if isinstance(request_, m.GetRPCMethods)
        else m.TransferCompleteResponse
    )
    assert [type(a) for a in quiet_turned.answers] == [m.InformResponse, answer_type, type(None)]
    assert quiet_after.answers == general_after.answers == [m.InformResponse(), None]
    assert quiet_device == general_device

    # one session and one Inform each, as the general path counts them
    for the_acs, turned in ((quiet_acs, quiet_turned), (general_acs, general_turned)):
        telemetry = the_acs.telemetry
        assert turned.active_during == 1  # held once while it ran, not twice
        assert telemetry.active == 0
        assert telemetry.started - telemetry.released == 3  # three sessions
        assert len(telemetry.finished) == 3
        assert telemetry.informs == [PERIODIC] * 3
    assert quiet_acs.telemetry.released == 1  # the quiet record, let go when it turned
    assert [shape(*t) for t in quiet_acs.telemetry.finished] == [
        shape(*t) for t in general_acs.telemetry.finished
    ]
    assert quiet_acs.telemetry.rpcs == general_acs.telemetry.rpcs
    # the turned session's trace begins at its Inform, as the general one's does
    quiet_trace, general_trace = (
        quiet_acs.telemetry.finished[1][0],
        general_acs.telemetry.finished[1][0],
    )
    assert [s.start_ns for s in quiet_trace.spans] == [s.start_ns for s in general_trace.spans]
    assert quiet_trace.root.start_ns == to_ns(T0 + 120)
    assert quiet_trace.root.end_ns == general_trace.root.end_ns == to_ns(T0 + 125)


async def test_a_response_without_a_request_is_ignored_as_the_composite_ignores_it(
    tmp_path: Path, base: Base
) -> None:
    stray = m.GetParameterValuesResponse(parameters=())
    results = {}
    for quiet in (True, False):
        name = "quiet" if quiet else "general"
        async with acs(tmp_path, base, name, quiet=quiet) as the_acs:
            cpe = copy.deepcopy(base.fleet.cpes[QUIET])
            await drive(the_acs, cpe, T0 + 60)
            driven = await drive(the_acs, cpe, T0 + 120, stray_response=stray)
            results[name] = (the_acs, driven)
    quiet_acs, quiet_driven = results["quiet"]
    general_acs, general_driven = results["general"]
    assert quiet_driven.quiet  # stayed quiet: the stray response turned nothing general
    assert quiet_driven.answers == general_driven.answers == [m.InformResponse(), None]
    assert quiet_acs.telemetry.released == 0
    assert quiet_acs.telemetry.active == general_acs.telemetry.active == 0
    assert [shape(*t) for t in quiet_acs.telemetry.finished] == [
        shape(*t) for t in general_acs.telemetry.finished
    ]


# ---------------------------------------------------------------------- not quiet


async def test_presets_not_known_afresh_send_the_session_the_general_way(
    tmp_path: Path, base: Base
) -> None:
    async with acs(tmp_path, base, "quiet") as the_acs:
        cpe = copy.deepcopy(base.fleet.cpes[QUIET])
        device = await the_acs.repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
        assert device is not None
        # the profile in memory (as another session would have left it), presets never read
        await the_acs.profiles.fetch(device.customer_id, device.service_plan)
        assert the_acs.profiles.cached(device.customer_id, device.service_plan) is not None
        assert not the_acs.presets.known_none()
        first = await drive(the_acs, cpe, T0 + 60)
        assert not first.quiet
        assert first.answers == [m.InformResponse(), None]
        assert the_acs.presets.known_none()  # the general session read them: there are none
        assert (await drive(the_acs, cpe, T0 + 120)).quiet
        the_acs.presets.invalidate()  # a preset was written: not known afresh any more
        again = await drive(the_acs, cpe, T0 + 180)
        assert not again.quiet
        assert again.answers == [m.InformResponse(), None]
        assert (await drive(the_acs, cpe, T0 + 240)).quiet
        assert the_acs.telemetry.active == 0
        assert the_acs.telemetry.informs == [PERIODIC] * 4


async def test_a_profile_source_that_cannot_answer_from_memory_is_never_quiet(
    tmp_path: Path, base: Base
) -> None:
    async with acs(tmp_path, base, "bss", bss=True) as the_acs:
        cpe = copy.deepcopy(base.fleet.cpes[QUIET])
        for n in range(4):
            driven = await drive(the_acs, cpe, T0 + 60 * (n + 1))
            assert driven.answers == [m.InformResponse(), None]
            assert not driven.quiet
        assert the_acs.bss is not None
        assert the_acs.bss.fetches == 4  # every session asked the source: the general path ran
        assert the_acs.quiet_sessions == []
        assert the_acs.telemetry.active == 0


async def test_a_profile_written_after_caching_is_read_again_by_the_quiet_check(
    tmp_path: Path, base: Base
) -> None:
    async with acs(tmp_path, base, "quiet") as the_acs:
        cpe = copy.deepcopy(base.fleet.cpes[QUIET])
        await drive(the_acs, cpe, T0 + 60)
        assert (await drive(the_acs, cpe, T0 + 120)).quiet
        # a write to some other profile: the cache cannot tell what changed, so nothing
        # is known in memory; the check reads the device's profile from the store itself
        await the_acs.repo.put_profile_document(
            "unrelated", {"name": "unrelated", "services": ["internet"]}, "1"
        )
        device = await the_acs.repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
        assert device is not None
        assert the_acs.profiles.cached(device.customer_id, device.service_plan) is None
        written = await drive(the_acs, cpe, T0 + 180)
        assert written.quiet
        assert written.answers == [m.InformResponse(), None]  # same profile: nothing pushed
        # the check's own read put the profile back in memory
        assert the_acs.profiles.cached(device.customer_id, device.service_plan) is not None
        assert the_acs.telemetry.active == 0


# ---------------------------------------------------------------------- sampling


class Unsampled(SamplingTelemetry):
    """Keeps no quiet trace."""

    def samples_quiet_trace(self, trace_id: str) -> bool:
        super().samples_quiet_trace(trace_id)
        return False


async def test_an_unsampled_quiet_session_records_no_trace_and_still_ends(
    tmp_path: Path, base: Base
) -> None:
    telemetry = Unsampled()
    async with acs(tmp_path, base, "quiet", telemetry=telemetry) as the_acs:
        cpe = copy.deepcopy(base.fleet.cpes[QUIET])
        await drive(the_acs, cpe, T0 + 60)  # general: its trace goes to session_finished
        assert len(telemetry.finished) == 1
        for n in range(3):
            driven = await drive(the_acs, cpe, T0 + 120 + n)
            assert driven.quiet
            assert driven.active_during == 1
            assert telemetry.active == 0
        assert telemetry.quiet_ends == 3
        assert len(telemetry.finished) == 1  # no trace for the quiet ones
        assert telemetry.released == 3  # their ends, told by session_released
        assert telemetry.started == 4
        assert telemetry.informs == [PERIODIC] * 4
        # a turned session asks nothing: its trace is the general path's, always recorded
        turned = await drive(the_acs, cpe, T0 + 200, cpe_requests=[m.GetRPCMethods()])
        assert turned.quiet
        assert telemetry.quiet_ends == 3
        assert len(telemetry.finished) == 2
        assert telemetry.active == 0


async def test_a_session_that_is_not_quiet_runs_the_composite_with_one_inform_recorded(
    tmp_path: Path, base: Base
) -> None:
    """The general handler is built around a provisioning session that already has the
    Inform recorded: the inventory sees one Inform, at its time."""
    async with acs(tmp_path, base, "quiet") as the_acs:
        cpe = copy.deepcopy(base.fleet.cpes[QUIET])
        driven = await drive(the_acs, cpe, T0 + 60, codes=("1 BOOT",))
        assert not driven.quiet
        assert isinstance(driven.handler, QuietFirstSession)
        assert isinstance(driven.handler._handler, CompositeSessionHandler)
        device = await the_acs.repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
        assert device is not None
        assert device.last_inform_at == device.last_boot_at == T0 + 60
        assert the_acs.telemetry.informs == [("1 BOOT",)]


# ---------------------------------------------------------------------- cut short


async def cut_short(the_acs: Acs, cpe: SimulatedCpe, when: float, reason: SessionEndReason) -> bool:
    """A session that ends before its empty POST (the CPE gave up after the
    InformResponse); True when it was quiet."""
    the_acs.sessions += 1
    session_id = f"session-{the_acs.sessions}"
    handler = the_acs.factory.new_session(session_id)
    assert await handler.on_inform(inform_of(cpe, PERIODIC, when), when) == m.InformResponse()
    await handler.on_session_end(reason, when + 30)
    return session_id in the_acs.quiet_sessions


@pytest.mark.parametrize("reason", ["timeout", "abandoned", "dropped"])
async def test_a_quiet_session_cut_short_counts_as_the_general_one(
    tmp_path: Path, base: Base, reason: SessionEndReason
) -> None:
    """What both paths agree on for a session that never reached its empty POST."""
    runs = {}
    for quiet in (True, False):
        name = "quiet" if quiet else "general"
        async with acs(tmp_path, base, name, quiet=quiet) as the_acs:
            cpe = copy.deepcopy(base.fleet.cpes[QUIET])
            await drive(the_acs, cpe, T0 + 60)
            was_quiet = await cut_short(the_acs, cpe, T0 + 120, reason)
            device = await the_acs.repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
            runs[name] = (the_acs.telemetry, was_quiet, device)
    quiet_telemetry, was_quiet, quiet_device = runs["quiet"]
    general_telemetry, _, general_device = runs["general"]
    assert was_quiet
    assert quiet_device == general_device
    for telemetry in (quiet_telemetry, general_telemetry):
        assert telemetry.active == 0
        assert telemetry.informs == [PERIODIC, PERIODIC]
        assert len(telemetry.finished) == 2
    quiet_trace, quiet_outcome = quiet_telemetry.finished[1]
    general_trace, general_outcome = general_telemetry.finished[1]
    assert quiet_outcome is general_outcome is None
    assert quiet_trace.root.attributes == {
        **general_trace.root.attributes,
        "cwmp.session.id": quiet_trace.root.attributes["cwmp.session.id"],
    }
    assert quiet_trace.root.end_ns == general_trace.root.end_ns == to_ns(T0 + 150)


@pytest.mark.parametrize("reason", ["timeout", "abandoned"])
async def test_a_quiet_session_cut_short_traces_as_the_general_one(
    tmp_path: Path, base: Base, reason: SessionEndReason
) -> None:
    finished = {}
    for quiet in (True, False):
        name = "quiet" if quiet else "general"
        async with acs(tmp_path, base, name, quiet=quiet) as the_acs:
            cpe = copy.deepcopy(base.fleet.cpes[QUIET])
            await drive(the_acs, cpe, T0 + 60)
            assert await cut_short(the_acs, cpe, T0 + 120, reason) is quiet
            finished[name] = the_acs.telemetry.finished[1]
    general_shape = shape(*finished["general"])
    assert [s[0] for s in general_shape["spans"]] == ["cpe.inform", "cpe.provision.authenticate"]
    assert shape(*finished["quiet"]) == general_shape


# ---------------------------------------------------------------------- the endpoint's end


@pytest.mark.parametrize("sampled", [True, False], ids=["trace_kept", "trace_dropped"])
async def test_end_quietly_records_what_the_empty_post_and_the_session_end_record(
    tmp_path: Path, base: Base, sampled: bool
) -> None:
    """The endpoint's quiet route calls `end_quietly` where the general one asks
    ``next_acs_request`` and then calls ``on_session_end("completed")``: the same record
    (counts, trace with its ``fetch_profile`` step, times), kept or dropped alike."""

    class Dropping(SamplingTelemetry):
        def samples_quiet_trace(self, trace_id: str) -> bool:
            self.quiet_ends += 1
            return False

    recorded: dict[str, SamplingTelemetry] = {}
    for way in ("calls", "end_quietly"):
        telemetry = SamplingTelemetry() if sampled else Dropping()
        async with acs(tmp_path, base, way, telemetry=telemetry) as the_acs:
            cpe = copy.deepcopy(base.fleet.cpes[QUIET])
            await drive(the_acs, cpe, T0 + 60)  # loads presets and the profile
            handler = the_acs.factory.new_session("ended")
            assert isinstance(handler, QuietFirstSession)
            assert not handler.quiet  # nothing known before the Inform
            answer = await handler.on_inform(inform_of(cpe, PERIODIC, T0 + 120), T0 + 120)
            assert answer == m.InformResponse()
            assert handler.quiet
            if way == "calls":
                assert await handler.next_acs_request(T0 + 125) is None
                await handler.on_session_end("completed", T0 + 125)
            else:
                handler.end_quietly(T0 + 125)
            await handler.on_session_end("completed", T0 + 126)  # ended once: a no-op
            recorded[way] = telemetry
    calls, quietly = recorded["calls"], recorded["end_quietly"]
    for telemetry in (calls, quietly):
        assert telemetry.active == 0
        assert telemetry.quiet_ends == 1  # the warm-up went the general way
        assert len(telemetry.finished) == (2 if sampled else 1)
    assert (calls.started, calls.released) == (quietly.started, quietly.released)
    assert [shape(*t) for t in quietly.finished] == [shape(*t) for t in calls.finished]
    if sampled:
        quiet_trace, calls_trace = quietly.finished[-1][0], calls.finished[-1][0]
        assert [s.name for s in quiet_trace.spans][-1] == "cpe.provision.fetch_profile"
        assert [(s.start_ns, s.end_ns) for s in quiet_trace.spans] == [
            (s.start_ns, s.end_ns) for s in calls_trace.spans
        ]
        assert quiet_trace.root.end_ns == to_ns(T0 + 125)


async def test_a_quiet_session_that_turned_general_is_no_longer_quiet(
    tmp_path: Path, base: Base
) -> None:
    """So the endpoint's quiet route is not taken for its empty POST."""
    async with acs(tmp_path, base, "turned") as the_acs:
        cpe = copy.deepcopy(base.fleet.cpes[QUIET])
        await drive(the_acs, cpe, T0 + 60)
        handler = the_acs.factory.new_session("turned")
        assert isinstance(handler, QuietFirstSession)
        await handler.on_inform(inform_of(cpe, PERIODIC, T0 + 120), T0 + 120)
        assert handler.quiet
        await handler.on_cpe_request(m.GetRPCMethods(), T0 + 121)
        assert not handler.quiet
        assert await handler.next_acs_request(T0 + 122) is None
        await handler.on_session_end("completed", T0 + 122)
        assert the_acs.telemetry.active == 0
