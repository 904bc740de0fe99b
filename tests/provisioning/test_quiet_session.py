"""The quiet path against the general one: same fleet, same sessions, same results.

Two ACSs are built the way `traceacs.tasks.wiring` builds one (real
`ProvisioningHandlerFactory`, `EmbeddedProfileSource` with a cache, `TaskHandlerFactory`,
`PresetApplier`, `CompositeHandlerFactory`), one with ``quiet_sessions=True`` and one
without, each on its own copy of one SQLite inventory in which the fleet was
bootstrapped. The same CPEs (copies) then run the same CWMP sessions against each over
real HTTP (`CwmpEndpoint`), and everything observable must be equal: what the CPE was
answered, the device rows, attempts and tasks afterwards, the sessions and Informs
counted, and the traces handed to telemetry (span names, parents, attributes, flags).

The quiet factory counts the sessions it serves the quiet way (its provisioning
factory's `quiet_session`, wrapped), so the test checks that the expected sessions went
quiet and no other (it would otherwise pass with the quiet path never taken), and that
the endpoint ended each of them by its quiet route (`QuietEnding.end_quietly`, no
``next_acs_request`` asked of a quiet session) with the session line the general run
logs. The
telemetry either keeps every quiet trace up front (`samples_quiet_trace` True, asked
once per quiet session) or has no such say (every trace handed to `session_finished`).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import re
import shutil
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.server.cwmp_client import FakeClock, running
from traceacs.assembly import INFORM_WRITE_BEHIND_SECONDS
from traceacs.cwmp import messages as m
from traceacs.presets.applier import PresetApplier
from traceacs.profiles.document import profile_to_document
from traceacs.profiles.embedded import EmbeddedProfileSource
from traceacs.provisioning.device import Device, ProvisioningState
from traceacs.provisioning.profile import FirmwareTarget, ServiceProfile
from traceacs.provisioning.quiet_session import QuietSession
from traceacs.provisioning.repository import AttemptFilter
from traceacs.provisioning.session_trace import SessionTrace
from traceacs.provisioning.telemetry_port import ProvisioningOutcome
from traceacs.provisioning.workflow import ProvisioningHandlerFactory
from traceacs.server.cwmp_endpoint import CwmpEndpoint
from traceacs.simulator.cpe import SimulatedCpe
from traceacs.simulator.faults import NO_FAULTS, Failure, FaultPlan
from traceacs.simulator.fleet import Fleet, build_fleet
from traceacs.simulator.fleet_store import store_fleet
from traceacs.simulator.http_client import AcsConnection
from traceacs.simulator.runner import FleetRunner, RunnerConfig
from traceacs.storage import SqlDeviceRepository, open_repository
from traceacs.storage.bulk_tasks import SqlBulkStore
from traceacs.storage.presets import SqlPresetStore
from traceacs.storage.tags import SqlTagStore
from traceacs.storage.tasks import SqlTaskStore
from traceacs.tasks.composite import CompositeHandlerFactory
from traceacs.tasks.dispatch_gate import PacedDispatchGate
from traceacs.tasks.quiet_first import QuietFirstSession
from traceacs.tasks.runner import TaskHandlerFactory
from traceacs.tasks.wake_trace import ConnectionRequestTraces
from traceacs.telemetry.sampling import is_quiet_periodic

T0 = 1_800_000_000.0
PERIODIC = ("2 PERIODIC",)
VALUE_CHANGE = ("2 PERIODIC", "4 VALUE CHANGE")
PROFILE_CACHE_SECONDS = 3600.0  # longer than the test: the cache never ages here
ROLES = ("quiet", "quiet_vc", "other_key", "task", "failed", "boot", "wake", "changed", "stale")
"""One known device per role (plus one unknown device), in fleet order. ``changed`` and
``stale`` share the plan whose profile is changed (`CHANGED_PLAN`)."""
CHANGED_PLAN = "internet-basic"


# ---------------------------------------------------------------------- telemetry


@dataclass
class RecordingTelemetry:
    """The telemetry port, recording everything; no `samples_quiet_trace`, so a quiet
    session records its trace for `session_finished` (as the general path does)."""

    finished: list[tuple[SessionTrace, ProvisioningOutcome | None]] = field(default_factory=list)
    active: int = 0
    started: int = 0
    released: int = 0
    informs: list[tuple[str, ...]] = field(default_factory=list)
    rpcs: list[tuple[str, int | None]] = field(default_factory=list)
    tasks_finished: list[tuple[str, str]] = field(default_factory=list)

    def session_started(self) -> None:
        self.active += 1
        self.started += 1

    def session_released(self) -> None:
        self.active -= 1
        self.released += 1

    def session_finished(self, trace: SessionTrace, outcome: ProvisioningOutcome | None) -> None:
        self.active -= 1
        self.finished.append((trace, outcome))

    def rpc_finished(self, method: str, duration_s: float, fault_code: int | None) -> None:
        self.rpcs.append((method, fault_code))

    def inform_received(self, event_codes: Sequence[str]) -> None:
        self.informs.append(tuple(event_codes))

    def task_finished(self, name: str, result: str, duration_ms: float | None) -> None:
        self.tasks_finished.append((name, result))


@dataclass
class SamplingTelemetry(RecordingTelemetry):
    """Keeps every quiet trace, and counts the questions (`QuietSession.end` asks once)."""

    quiet_ends: int = 0

    def samples_quiet_trace(self, trace_id: str) -> bool:
        self.quiet_ends += 1
        return True


# ---------------------------------------------------------------------- the ACS


@dataclass
class Acs:
    repo: SqlDeviceRepository
    url: str
    clock: FakeClock
    """The endpoint's clock (the sessions' ``now``)."""
    quiet_sessions: list[str]
    """The ids of the sessions `ProvisioningHandlerFactory.quiet_session` was asked for
    (the quiet path's one way in, `QuietFirstSession`)."""
    lines: list[str]
    """The endpoint's session lines, in order."""


class SessionLines(logging.Handler):
    """Collects the endpoint's one line per session."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.INFO)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("cwmp session "):
            self.lines.append(message)


@asynccontextmanager
async def acs(db: Path, telemetry: RecordingTelemetry, *, quiet: bool) -> AsyncIterator[Acs]:
    """An ACS on ``db`` wired as `build_task_wiring` wires one."""
    # as `open_acs` opens it: with the Inform written behind, whose read of the device
    # tells whether tasks are queued (the quiet path needs to know there are none)
    repo = await open_repository(f"sqlite:///{db}", inform_write_behind=INFORM_WRITE_BEHIND_SECONDS)
    try:
        profiles = EmbeddedProfileSource(repo, max_age=PROFILE_CACHE_SECONDS)
        provisioning = ProvisioningHandlerFactory(repo, profiles, telemetry)
        store = SqlTaskStore(repo.db, repo.secrets)
        tasks = TaskHandlerFactory(
            store, telemetry=telemetry, gate=PacedDispatchGate(SqlBulkStore(repo.db))
        )
        presets = PresetApplier(
            SqlPresetStore(repo.db, repo.secrets),
            SqlTagStore(repo.db),
            store,
            refresh_seconds=PROFILE_CACHE_SECONDS,  # a slow run must not reload them
        )
        factory = CompositeHandlerFactory(
            provisioning, tasks, ConnectionRequestTraces(), presets, quiet_sessions=quiet
        )
        quiet_sessions: list[str] = []
        quiet_session = provisioning.quiet_session

        def counted(session_id: str, *args: Any) -> QuietSession:
            quiet_sessions.append(session_id)
            return quiet_session(session_id, *args)

        provisioning.quiet_session = counted  # type: ignore[method-assign, assignment]
        clock = FakeClock(T0)
        endpoint = CwmpEndpoint(factory, authenticator=None, clock=clock)
        lines: list[str] = []
        endpoint_log = logging.getLogger("traceacs.server.cwmp")
        level, handler = endpoint_log.level, SessionLines(lines)
        endpoint_log.setLevel(logging.INFO)
        endpoint_log.addHandler(handler)
        try:
            async with running(endpoint) as url:
                yield Acs(repo, url, clock, quiet_sessions, lines)
        finally:
            endpoint_log.removeHandler(handler)
            endpoint_log.setLevel(level)
    finally:
        await repo.close()


_SESSION_ID = re.compile(r"^cwmp session [0-9a-f]{16} ")


# ---------------------------------------------------------------------- the CPE side


Transcript = list[tuple[str | None, m.Message | None]]
"""What the ACS answered each POST of a session: (cwmp id, body); None: 204. The ids of
the ACS's requests are the session's (random) prefix and a counter: the counter is kept."""


def cwmp_id(envelope: m.Envelope) -> str | None:
    return None if envelope.cwmp_id is None else envelope.cwmp_id.rpartition("-")[2]


@dataclass(frozen=True)
class Session:
    role: str
    codes: tuple[str, ...]
    reported_key: str | None = None
    """A ParameterKey the Inform reports instead of the CPE's own."""


async def run_session(url: str, cpe: SimulatedCpe, session: Session, when: float) -> Transcript:
    """One CWMP session as a CPE runs it; the ACS's answers, in order."""
    now = datetime.fromtimestamp(when, UTC)
    envelope = cpe.build_inform(now)
    inform = envelope.body
    assert isinstance(inform, m.Inform)
    parameters = inform.parameters
    if session.reported_key is not None:
        parameters = tuple(
            dataclasses.replace(p, value=session.reported_key)
            if p.name.endswith(".ManagementServer.ParameterKey")
            else p
            for p in parameters
        )
    inform = dataclasses.replace(
        inform, events=tuple(m.EventStruct(c) for c in session.codes), parameters=parameters
    )
    transcript: Transcript = []
    async with AcsConnection(url, faults=cpe.faults) as conn:
        reply = await conn.post(dataclasses.replace(envelope, body=inform))
        transcript.append((None, None) if reply is None else (cwmp_id(reply), reply.body))
        if reply is None or not isinstance(reply.body, m.InformResponse):
            return transcript
        acs_request = await conn.post(None)
        while acs_request is not None:
            transcript.append((cwmp_id(acs_request), acs_request.body))
            answer = cpe.handle(acs_request.body, now)
            acs_request = await conn.post(
                m.Envelope(body=answer, cwmp_id=acs_request.cwmp_id, namespace=cpe.namespace)
            )
        transcript.append((None, None))
    cpe.end_session()
    return transcript


# ---------------------------------------------------------------------- the fleet


def fleet() -> Fleet:
    plans = [NO_FAULTS] * len(ROLES) + [FaultPlan(failure=Failure.UNKNOWN)]
    plans[ROLES.index("failed")] = FaultPlan(failure=Failure.SPV_FAULT)
    built = build_fleet(len(plans), data_model="mixed", plans=plans, seed=11)
    shared = {built.cpes[ROLES.index(r)].identity.serial_number for r in ("changed", "stale")}
    inventory = tuple(
        dataclasses.replace(r, service_plan=CHANGED_PLAN) if r.serial_number in shared else r
        for r in built.inventory
    )
    return dataclasses.replace(built, inventory=inventory)


async def bootstrapped(tmp_path: Path) -> tuple[Path, Fleet]:
    """The fleet stored and every known CPE bootstrapped (the failed one fails)."""
    the_fleet = fleet()
    db = tmp_path / "base.db"
    telemetry = RecordingTelemetry()
    async with acs(db, telemetry, quiet=False) as base_acs:
        repo, url = base_acs.repo, base_acs.url
        await store_fleet(repo, the_fleet, T0 - 86_400)
        runner = FleetRunner(list(the_fleet.cpes), RunnerConfig(url, connection_requests=False))
        for cpe in the_fleet.cpes[: len(ROLES)]:
            await runner.run_session(cpe)
        states = [
            d.state
            for d in [
                await repo.get_device(c.identity.oui, c.identity.serial_number)
                for c in the_fleet.cpes[: len(ROLES)]
            ]
            if d is not None
        ]
    expected = [ProvisioningState.PROVISIONED] * len(ROLES)
    expected[ROLES.index("failed")] = ProvisioningState.FAILED
    assert states == expected
    return db, the_fleet


def copy_db(source: Path, target: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")
    return target


# ---------------------------------------------------------------------- one run


@dataclass
class Run:
    transcripts: list[Transcript] = field(default_factory=list)
    traces: list[list[tuple[SessionTrace, ProvisioningOutcome | None]]] = field(
        default_factory=list
    )
    """Per session: what `session_finished` was handed."""
    informs: list[list[tuple[str, ...]]] = field(default_factory=list)
    quiet: list[bool] = field(default_factory=list)
    """Per session: served the quiet way (quiet factory only)."""
    lines: list[list[str]] = field(default_factory=list)
    """Per session: the endpoint's session lines, without the session id."""
    active_after: list[int] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)
    attempts: list[Any] = field(default_factory=list)
    tasks: list[Any] = field(default_factory=list)
    telemetry: RecordingTelemetry = field(default_factory=RecordingTelemetry)


def script(the_fleet: Fleet) -> list[Session | str]:
    """The sessions, in order; a string is an action on the store between sessions."""
    everyone = [Session(role, PERIODIC) for role in (*ROLES, "unknown")]
    cases: list[Session | str] = [
        Session("quiet", PERIODIC),
        Session("quiet_vc", VALUE_CHANGE),
        "queue a task",
        Session("task", PERIODIC),
        Session("other_key", PERIODIC, reported_key="not-what-we-pushed"),
        Session("failed", PERIODIC),
        Session("unknown", PERIODIC),
        Session("boot", ("1 BOOT",)),
        Session("wake", ("6 CONNECTION REQUEST",)),
        "change the profile",  # the profile source's generation moves: its cache goes
        Session("changed", PERIODIC),  # general (a read), and pushes the new profile
        Session("stale", PERIODIC),  # the new profile in the cache: the check sees it
    ]
    return [
        *everyone,  # cold: the profile cache and the presets fill as sessions go
        *everyone,  # warm: every provisioned device quiet
        *cases,
        *everyone,  # after the profile write: the quiet check reads it again itself
        *everyone,  # warm again: the changed device is quiet with its new profile
    ]


async def run(
    tmp_path: Path, base: Path, the_fleet: Fleet, telemetry: RecordingTelemetry, *, quiet: bool
) -> Run:
    name = "quiet" if quiet else "general"
    db = copy_db(base, tmp_path / f"{name}.db")
    cpes = copy.deepcopy(the_fleet.cpes)
    by_role = dict(zip((*ROLES, "unknown"), cpes, strict=True))
    result = Run(telemetry=telemetry)
    when = T0
    async with acs(db, telemetry, quiet=quiet) as the_acs:
        repo, url, clock = the_acs.repo, the_acs.url, the_acs.clock
        for step in script(the_fleet):
            if step == "change the profile":
                [plan] = [p for p in the_fleet.profiles if p.name == CHANGED_PLAN]
                document = profile_to_document(plan)
                document["vlans"] = {k: v + 1 for k, v in document["vlans"].items()}
                await repo.put_profile_document(CHANGED_PLAN, document, "2")
                continue
            if step == "queue a task":
                cpe = by_role["task"]
                await SqlTaskStore(repo.db, repo.secrets).add_task(
                    cpe.identity.oui,
                    cpe.identity.serial_number,
                    "getParameterValues",
                    {"parameterNames": [f"{cpe.root}DeviceInfo.UpTime"]},
                    when,
                )
                continue
            assert isinstance(step, Session)
            when += 60
            clock.now = when
            finished, informs = len(telemetry.finished), len(telemetry.informs)
            quiet_sessions, lines = len(the_acs.quiet_sessions), len(the_acs.lines)
            result.transcripts.append(await run_session(url, by_role[step.role], step, when))
            result.lines.append([_SESSION_ID.sub("", x) for x in the_acs.lines[lines:]])
            result.traces.append(telemetry.finished[finished:])
            result.informs.append(telemetry.informs[informs:])
            result.active_after.append(telemetry.active)
            result.quiet.append(len(the_acs.quiet_sessions) == quiet_sessions + 1)
            assert len(the_acs.quiet_sessions) <= quiet_sessions + 1
        result.devices = [
            d
            for c in cpes
            if (d := await repo.get_device(c.identity.oui, c.identity.serial_number)) is not None
        ]
        result.attempts = await repo.list_attempts(AttemptFilter(), limit=1000)
        task_cpe = by_role["task"]
        result.tasks = await SqlTaskStore(repo.db, repo.secrets).device_tasks(
            task_cpe.identity.oui, task_cpe.identity.serial_number
        )
    return result


# ---------------------------------------------------------------------- shapes


IGNORED_ATTRIBUTES = frozenset({"cwmp.session.id"})


def shape(trace: SessionTrace, outcome: ProvisioningOutcome | None) -> dict[str, Any]:
    """A trace without its ids and times: names, parents (by position), attributes."""
    index = {span.span_id: i for i, span in enumerate(trace.spans)}
    return {
        "spans": [
            (
                span.name,
                None if span.parent_span_id is None else index.get(span.parent_span_id, "?"),
                {k: v for k, v in span.attributes.items() if k not in IGNORED_ATTRIBUTES},
                span.status,
                span.status_message,
                span.end_ns is not None,
            )
            for span in trace.spans
        ],
        "changed_something": trace.changed_something,
        "failed": trace.failed,
        "outcome": None
        if outcome is None
        else dataclasses.replace(outcome, total_duration_ms=0.0, step_durations_ms={}),
        "steps": None if outcome is None else sorted(outcome.step_durations_ms),
    }


def check_times(trace: SessionTrace) -> None:
    """Every span closed, within its parent."""
    spans = {span.span_id: span for span in trace.spans}
    for span in trace.spans:
        assert span.end_ns is not None, span.name
        assert span.start_ns <= span.end_ns, span.name
        parent = spans.get(span.parent_span_id or "")
        if parent is not None:
            assert parent.end_ns is not None
            assert parent.start_ns <= span.start_ns <= span.end_ns <= parent.end_ns, span.name


def without_times(device: Device) -> Device:
    return dataclasses.replace(
        device, created_at=0.0, updated_at=0.0, last_inform_at=None, last_boot_at=None
    )


def attempt_row(attempt: Any) -> Any:
    return dataclasses.replace(
        attempt,
        started_at=0.0,
        ended_at=None if attempt.ended_at is None else 0.0,
        deadline_at=None if attempt.deadline_at is None else 0.0,
        trace_id=None if attempt.trace_id is None else "set",
    )


def task_row(task: Any) -> dict[str, Any]:
    return {
        k: v
        for k, v in dataclasses.asdict(task).items()
        if not k.endswith("_at") and k not in ("trace_id",)
    }


# ---------------------------------------------------------------------- the test


@pytest.mark.parametrize("sampling", [True, False], ids=["samples_quiet_trace", "records_all"])
async def test_quiet_sessions_answer_record_and_trace_what_the_general_path_does(
    tmp_path: Path, sampling: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sampling``: the telemetry tells up front that it keeps every quiet trace
    (`QuietTraceSampling`), or it has no say and is handed every trace."""

    def telemetry() -> RecordingTelemetry:
        return SamplingTelemetry() if sampling else RecordingTelemetry()

    # how the endpoint ended each quiet session: its quiet route, or the general one
    ended_quietly: list[str] = []
    asked_while_quiet: list[str] = []
    end_quietly, next_acs_request = (
        QuietFirstSession.end_quietly,
        QuietFirstSession.next_acs_request,
    )

    def recording_end_quietly(self: QuietFirstSession, now: float) -> None:
        ended_quietly.append(self._session_id)
        end_quietly(self, now)

    async def recording_next_acs_request(self: QuietFirstSession, now: float) -> m.Message | None:
        if self.quiet:
            asked_while_quiet.append(self._session_id)
        return await next_acs_request(self, now)

    monkeypatch.setattr(QuietFirstSession, "end_quietly", recording_end_quietly)
    monkeypatch.setattr(QuietFirstSession, "next_acs_request", recording_next_acs_request)

    base, the_fleet = await bootstrapped(tmp_path)
    general = await run(tmp_path, base, the_fleet, telemetry(), quiet=False)
    assert ended_quietly == asked_while_quiet == []
    quiet = await run(tmp_path, base, the_fleet, telemetry(), quiet=True)
    steps = [s for s in script(the_fleet) if isinstance(s, Session)]

    # the endpoint ended every quiet session by its quiet route, and no other
    assert len(ended_quietly) == sum(quiet.quiet) > 0
    assert len(set(ended_quietly)) == len(ended_quietly)
    assert asked_while_quiet == []
    # with the line the general run logs, one per session
    for step, quiet_lines, general_lines in zip(steps, quiet.lines, general.lines, strict=True):
        assert len(quiet_lines) == 1, step
        assert quiet_lines == general_lines, step

    # the quiet path ran, exactly where it should (not vacuous)
    assert len(quiet.quiet) == len(steps)
    everyone = len(ROLES) + 1
    provisioned = [r for r in ROLES if r != "failed"]
    warm = steps[everyone : 2 * everyone]
    assert [s.role for s, q in zip(warm, quiet.quiet[everyone:], strict=False) if q] == provisioned
    cases = steps[2 * everyone : 2 * everyone + 10]
    assert [s.role for s, q in zip(cases, quiet.quiet[2 * everyone :], strict=False) if q] == [
        "quiet",
        "quiet_vc",
    ]
    # right after the profile write the check reads the profile afresh itself: quiet
    # exactly where the general path had nothing to send (the devices of the changed
    # plan push it; a failed device is never quiet)
    refill = slice(2 * everyone + 10, 3 * everyone + 10)
    nothing_sent = [
        len(t) == 2 and t[0][1] == m.InformResponse() and t[1][1] is None
        for t in general.transcripts[refill]
    ]
    expected = [
        step.role
        for step, idle in zip(steps[refill], nothing_sent, strict=True)
        if idle and step.role in provisioned
    ]
    assert [s.role for s, q in zip(steps[refill], quiet.quiet[refill], strict=True) if q] == (
        expected
    )
    assert "quiet" in expected
    assert len(expected) < len(provisioned)  # some pushed the changed profile
    last = steps[-everyone:]
    assert [s.role for s, q in zip(last, quiet.quiet[-everyone:], strict=True) if q] == provisioned
    assert not any(general.quiet)
    if isinstance(quiet.telemetry, SamplingTelemetry):  # asked once per quiet session
        assert quiet.telemetry.quiet_ends == sum(quiet.quiet)

    # the same answers to the CPE, POST by POST
    for step, mine, theirs in zip(steps, quiet.transcripts, general.transcripts, strict=True):
        assert mine == theirs, step
    # the general cases really differed from a quiet session (the test sees pushes etc.)
    by_role = {s.role: t for s, t in zip(cases, general.transcripts[2 * everyone :], strict=False)}
    assert isinstance(by_role["changed"][1][1], m.SetParameterValues)
    assert isinstance(by_role["stale"][1][1], m.SetParameterValues)
    assert isinstance(by_role["other_key"][1][1], m.SetParameterValues)
    assert isinstance(by_role["task"][1][1], m.GetParameterValues)
    assert isinstance(by_role["unknown"][0][1], m.CwmpFault)
    assert by_role["quiet"] == [(by_role["quiet"][0][0], m.InformResponse()), (None, None)]

    # the same inventory afterwards
    assert [without_times(d) for d in quiet.devices] == [without_times(d) for d in general.devices]
    assert [attempt_row(a) for a in quiet.attempts] == [attempt_row(a) for a in general.attempts]
    assert [task_row(t) for t in quiet.tasks] == [task_row(t) for t in general.tasks]
    assert [t["status"] for t in map(task_row, general.tasks)] == ["done"]

    # sessions and Informs counted once each, nothing left active
    for run_ in (general, quiet):
        recorded = run_.telemetry
        assert run_.active_after == [0] * len(steps)
        assert recorded.started == len(steps)
        assert recorded.released == 0
        assert len(recorded.finished) == len(steps)
        assert run_.informs == [[s.codes] for s in steps]
    assert quiet.telemetry.rpcs == general.telemetry.rpcs
    assert quiet.telemetry.tasks_finished == general.telemetry.tasks_finished

    # the same traces, quiet sessions' included
    for step, was_quiet, quiet_traces, general_traces in zip(
        steps, quiet.quiet, quiet.traces, general.traces, strict=True
    ):
        assert [shape(*t) for t in quiet_traces] == [shape(*t) for t in general_traces], (
            step,
            was_quiet,
        )
        for trace, _ in quiet_traces:
            check_times(trace)
            if was_quiet:
                assert is_quiet_periodic(trace)  # sampled as the general path's would be


class MemoryProfiles:
    """A profile source that always answers from memory, with the profile given."""

    def __init__(self, profile: ServiceProfile) -> None:
        self.profile = profile

    async def fetch(self, customer_id: str, service_plan: str) -> ServiceProfile:
        return self.profile

    def cached(self, customer_id: str, service_plan: str) -> ServiceProfile | None:
        return self.profile


async def test_a_firmware_upgrade_due_is_never_quiet(tmp_path: Path) -> None:
    """The check's firmware rule: the general path would send a Download."""
    base, the_fleet = await bootstrapped(tmp_path)
    repo = await open_repository(
        f"sqlite:///{copy_db(base, tmp_path / 'firmware.db')}",
        inform_write_behind=INFORM_WRITE_BEHIND_SECONDS,
    )
    try:
        cpe = the_fleet.cpes[ROLES.index("quiet")]
        device = await repo.get_device(cpe.identity.oui, cpe.identity.serial_number)
        assert device is not None
        [profile] = [p for p in the_fleet.profiles if p.name == device.service_plan]
        envelope = cpe.build_inform(datetime.fromtimestamp(T0, UTC))
        assert isinstance(envelope.body, m.Inform)
        inform = dataclasses.replace(envelope.body, events=(m.EventStruct("2 PERIODIC"),))
        running_version = str(cpe.value(f"{cpe.root}DeviceInfo.SoftwareVersion"))
        model = cpe.identity.product_class

        async def quiet_with(*targets: FirmwareTarget) -> bool:
            with_firmware = dataclasses.replace(profile, firmware=targets)
            factory = ProvisioningHandlerFactory(repo, MemoryProfiles(with_firmware))
            return (await factory.check_quiet(inform, PERIODIC, T0)).quiet

        assert await quiet_with()
        assert await quiet_with(FirmwareTarget(model, running_version, "same.bin"))
        assert await quiet_with(FirmwareTarget("another-model", "9.9.9", "other.bin"))
        assert not await quiet_with(FirmwareTarget(model, "9.9.9", "new.bin"))
    finally:
        await repo.close()
