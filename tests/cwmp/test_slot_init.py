"""The messages' ``__init__`` set slots directly, and build the same frozen values."""

from __future__ import annotations

import copy
import dataclasses
import inspect
from datetime import UTC, datetime

import pytest

from traceacs.cwmp import messages as m
from traceacs.cwmp import slot_init


def fresh_classes() -> tuple[type, type]:
    """A base and a subclass as messages.py declares them, with their dataclass __init__."""

    @dataclasses.dataclass(frozen=True, slots=True)
    class Base:
        a: int
        b: str = "b"

    @dataclasses.dataclass(frozen=True, slots=True)
    class Sub(Base):
        c: tuple[int, ...] = ()
        d: str = dataclasses.field(default="", repr=False)

    return Base, Sub


def test_the_installed_init_builds_what_the_dataclass_init_built() -> None:
    _, sub = fresh_classes()
    before = inspect.signature(sub)
    built = [sub(1), sub(1, "x", (2,), "y"), sub(a=1, d="z")]
    with pytest.raises(TypeError) as missing:
        sub()
    assert slot_init.install(sub)
    assert "_set_a" in vars(sub)["__init__"].__code__.co_names  # the new one runs
    assert inspect.signature(sub) == before
    assert [sub(1), sub(1, "x", (2,), "y"), sub(a=1, d="z")] == built
    assert repr(sub(1, d="secret")) == repr(built[0])
    with pytest.raises(TypeError) as again:
        sub()
    assert str(again.value) == str(missing.value)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sub(1).a = 2


@pytest.mark.parametrize(
    "decorate",
    [
        lambda c: dataclasses.dataclass(frozen=True)(c),  # no slots
        lambda c: dataclasses.dataclass(slots=True)(c),  # not frozen
    ],
    ids=["no slots", "not frozen"],
)
def test_classes_it_cannot_mirror_keep_their_init(decorate: object) -> None:
    class Plain:
        a: int

    cls = decorate(Plain)  # type: ignore[operator]
    init = cls.__init__
    assert not slot_init.install(cls)
    assert cls.__init__ is init


def test_post_init_factories_kw_only_and_init_false_keep_their_init() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class PostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclasses.dataclass(frozen=True, slots=True)
    class Factory:
        a: list[int] = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
    class KwOnly:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class NotInit:
        a: int = dataclasses.field(default=0, init=False)

    for cls in (PostInit, Factory, KwOnly, NotInit):
        init = cls.__init__
        assert not slot_init.install(cls), cls.__name__
        assert cls.__init__ is init


def test_every_message_class_has_it_and_stays_an_ordinary_value() -> None:
    classes = [v for v in vars(m).values() if isinstance(v, type) and dataclasses.is_dataclass(v)]
    with_fields = [c for c in classes if dataclasses.fields(c)]
    assert len(with_fields) > 30
    for cls in with_fields:
        assert cls.__init__.__code__.co_names[0].startswith("_set_"), cls.__name__
    now = datetime(2024, 5, 1, tzinfo=UTC)
    inform = m.Inform(
        m.DeviceId("ACME", "00AA11", "GW", "SN1"),
        (m.EventStruct("2 PERIODIC"),),
        1,
        now,
        0,
    )
    envelope = m.Envelope(body=inform, cwmp_id="7")
    assert envelope.namespace == "urn:dslforum-org:cwmp-1-0"
    assert inform.parameters == ()
    assert copy.deepcopy(envelope) == envelope
    assert hash(dataclasses.replace(envelope, cwmp_id="7")) == hash(envelope)
    assert "password" not in repr(m.Download("k", "1 Firmware Upgrade Image", "u", "x", "pw"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        envelope.cwmp_id = "8"  # type: ignore[misc]
