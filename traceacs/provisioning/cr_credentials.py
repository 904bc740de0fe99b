"""Per-device connection-request credentials: each CPE gets its own, never a shared one.

A connection request (TR-069 §3.2.2) is the ACS knocking on the CPE with HTTP Digest
credentials the CPE holds in ``ManagementServer.ConnectionRequestUsername/Password``.
One fleet-wide password would let anyone who extracts it from one CPE wake (and probe)
every other. So every config push also sets the device's own credentials: those in
the inventory if the operator imported some, else new ones generated here (the username
names the device; the password is 144 random bits), stored (sealed) before the push.

A profile that sets these parameters itself wins (the operator chose a value); nothing
is added then. Re-sending the stored credentials with every push keeps CPE and ACS in
step after a factory reset or a failed push.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from traceacs.cwmp import messages as m
from traceacs.provisioning.config_types import DesiredConfig
from traceacs.provisioning.device import Device

USERNAME_PARAMETER = "ManagementServer.ConnectionRequestUsername"
PASSWORD_PARAMETER = "ManagementServer.ConnectionRequestPassword"  # noqa: S105 - a name


@dataclass(frozen=True, slots=True)
class ConnectionRequestCredentials:
    username: str
    password: str = field(repr=False)


def new_password() -> str:
    return secrets.token_urlsafe(18)


def credentials_for(
    device: Device, make_password: Callable[[], str] = new_password
) -> tuple[ConnectionRequestCredentials, bool]:
    """The device's credentials and whether they are new (to be stored before the push)."""
    if device.connection_request_password:
        username = device.connection_request_username or _username(device)
        return ConnectionRequestCredentials(username, device.connection_request_password), False
    return ConnectionRequestCredentials(_username(device), make_password()), True


def _username(device: Device) -> str:
    return f"{device.identity.oui}-{device.identity.serial_number}"


def profile_sets_credentials(config: DesiredConfig) -> bool:
    suffixes = (USERNAME_PARAMETER, PASSWORD_PARAMETER)
    return any(p.name.endswith(suffixes) for p in config.parameters)


def credential_parameters(
    config: DesiredConfig, credentials: ConnectionRequestCredentials
) -> tuple[m.ParameterValueStruct, ...]:
    root = config.data_model_root
    prefix = root if root.endswith(".") else root + "."
    return (
        m.ParameterValueStruct(prefix + USERNAME_PARAMETER, credentials.username),
        m.ParameterValueStruct(prefix + PASSWORD_PARAMETER, credentials.password),
    )
