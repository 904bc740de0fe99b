"""A frozen, slotted dataclass's ``__init__`` without the frozen detour.

A frozen dataclass refuses attribute assignment, so the ``__init__`` that
``@dataclass(frozen=True)`` generates sets every field with
``object.__setattr__(self, name, value)``: a generic attribute look-up and a type check
per field. That was ~2.4 % of the server's GIL time (issue 8): an Inform builds its
Envelope, Inform, DeviceId and events, and every answer an Envelope and a message.

`install` gives such a class an ``__init__`` with the same signature and defaults that
stores each field through its slot's descriptor directly (``member_descriptor.__set__``
bound once): the same instance, 35-45 % fewer instructions (Envelope: 15k -> 9.5k).
Immutability, equality, hashing, ``repr``, pickling and ``dataclasses.replace`` are
untouched: they do not go through ``__init__``, or call it as a constructor.

Classes it cannot mirror exactly (``__post_init__``, ``InitVar``, ``init=False``,
``kw_only`` or ``default_factory`` fields, no slots) keep the dataclass ``__init__``.
"""

from __future__ import annotations

import dataclasses
from inspect import Parameter, signature
from types import MemberDescriptorType
from typing import Any


def install(cls: type[Any]) -> bool:
    """Replace the dataclass ``__init__`` of ``cls``; False where it must stay."""
    if not _mirrorable(cls):
        return False
    fields = dataclasses.fields(cls)
    namespace: dict[str, Any] = {}
    params: list[str] = []
    lines: list[str] = []
    for f in fields:
        namespace[f"_set_{f.name}"] = _slot(cls, f.name).__set__
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            namespace[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        lines.append(f"    _set_{f.name}(self, {f.name})\n")
    source = f"def __init__(self, {', '.join(params)}):\n" + ("".join(lines) or "    pass\n")
    exec(source, namespace)  # noqa: S102  # built from field names only, as dataclasses does
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = dict(cls.__init__.__annotations__)  # for inspect, get_type_hints
    cls.__init__ = init
    return True


def _slot(cls: type[Any], name: str) -> Any:
    """The slot descriptor of ``name``, on ``cls`` or the base that declares it."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return vars(klass)[name]
    return None


def _mirrorable(cls: type[Any]) -> bool:
    """Frozen, every field in a slot, no __post_init__, and a generated ``__init__``
    whose parameters are exactly the fields with their plain defaults (which rules out
    ``InitVar``, ``init=False``, ``kw_only`` and ``default_factory``)."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or hasattr(cls, "__post_init__"):
        return False
    fields = dataclasses.fields(cls)
    if not all(isinstance(_slot(cls, f.name), MemberDescriptorType) for f in fields):
        return False
    parameters = list(signature(cls.__init__).parameters.values())[1:]  # after self
    return len(parameters) == len(fields) and all(
        p.name == f.name
        and p.kind is Parameter.POSITIONAL_OR_KEYWORD
        and p.default is (Parameter.empty if f.default is dataclasses.MISSING else f.default)
        for p, f in zip(parameters, fields, strict=True)
    )
