"""The values the config builder takes and returns, and its one error.

Kept apart from the builder so the per-model mappers (`config_tr181`, `config_tr098`)
and the vendor overrides can share them without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from traceacs.cwmp.messages import Inform, ParameterValueStruct, ParamValue
from traceacs.datamodel import DATA_MODEL_ROOTS, DataModelRoot

REDACTED = "<redacted>"


class ConfigBuildError(ValueError):
    """The desired config cannot be built or would not fit the device's data model.

    Raised before anything is pushed. The message names the parameter and what is wrong
    with it (unknown, read-only, wrong type), never the value it carried.
    """


@dataclass(frozen=True, slots=True)
class ConfigTarget:
    """The device the config is for: its data model and what vendor overrides key on."""

    data_model_root: DataModelRoot
    oui: str = ""
    product_class: str = ""

    @classmethod
    def from_inform(cls, inform: Inform) -> ConfigTarget:
        """Choose the data model from the Inform's parameter names (``Device.`` or IGD)."""
        for parameter in inform.parameters:
            for root in DATA_MODEL_ROOTS:
                if parameter.name.startswith(root):
                    return cls(root, inform.device_id.oui, inform.device_id.product_class)
        raise ConfigBuildError(
            "the Inform names no Device. or InternetGatewayDevice. parameter; "
            "cannot tell the device's data model"
        )


@dataclass(frozen=True, slots=True)
class Setting:
    """One parameter the builder wants set, before it is checked against the model.

    ``xsd_type`` is given only for vendor parameters outside the standard table (the
    override must declare it); ``hidden`` likewise. ``secret`` marks values that must
    never be logged. The value is kept out of ``repr``.
    """

    name: str
    value: ParamValue = field(repr=False)
    secret: bool = False
    xsd_type: str | None = None
    hidden: bool = False


@dataclass(frozen=True, slots=True)
class DesiredConfig:
    """What the device must hold after provisioning, ready for SetParameterValues.

    ``parameter_key`` identifies this exact config (a hash of the sorted, typed
    values): push it as the SPV ParameterKey and compare it with the device's
    ``ManagementServer.ParameterKey`` to recognise a re-push of identical config.
    ``secret_names``: never log, trace or echo their values (use `redacted`).
    ``verifiable_names``: what a GetParameterValues can check (hidden parameters read
    back empty, so they are left out). ``instances``: the multi-instance object
    instances the parameters live in (``Device.WiFi.SSID.3.``), which must exist on
    the device (or be created with AddObject) before the push.
    """

    data_model_root: DataModelRoot
    parameters: tuple[ParameterValueStruct, ...] = field(repr=False)
    parameter_key: str
    secret_names: frozenset[str] = field(repr=False)
    verifiable_names: frozenset[str] = field(repr=False)
    instances: tuple[str, ...] = field(repr=False, default=())

    def __repr__(self) -> str:
        return (
            f"DesiredConfig({self.data_model_root!r}, parameters={len(self.parameters)}, "
            f"secrets={len(self.secret_names)}, parameter_key={self.parameter_key!r})"
        )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    def values(self) -> Mapping[str, ParamValue]:
        """Name -> desired value (secrets included: for the push and the verify only)."""
        return {p.name: p.value for p in self.parameters}

    def redacted(self) -> tuple[ParameterValueStruct, ...]:
        """The parameters with every secret value replaced, safe to log or trace."""
        return tuple(
            ParameterValueStruct(p.name, REDACTED, p.xsd_type) if p.name in self.secret_names else p
            for p in self.parameters
        )

    def verifiable(self) -> tuple[ParameterValueStruct, ...]:
        """The parameters a GetParameterValues can compare, in push order."""
        return tuple(p for p in self.parameters if p.name in self.verifiable_names)
