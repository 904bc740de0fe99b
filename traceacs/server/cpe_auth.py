"""Authentication of CPEs on the CWMP endpoint: HTTP Basic and Digest.

Passwords come from a `CpeCredentialStore` (per-device credentials from the
inventory, or one shared secret for a whole fleet). A per-device credential binds the
session to one device: the endpoint then refuses an Inform whose DeviceId the username
does not name (`username_names_device`), so one CPE cannot speak for another.

The authenticator is asked once per CWMP session, on the request that opens it: later
POSTs are tied to the session by its unguessable cookie (or its TCP connection), as
most ACSs do, because many CPEs only authenticate the Inform.

Basic sends the password in clear: configure it only with TLS, or for CPEs that
know nothing else. The default accepts both and challenges with Digest first.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from traceacs.server.digest import DigestResult, DigestVerifier, parse_digest_authorization

AuthMode = Literal["basic", "digest", "both"]


class CpeCredentialStore(Protocol):
    """Where CPE passwords come from. ``None``: no such user."""

    async def lookup(self, username: str) -> str | None: ...

    async def is_device_credential(self, username: str) -> bool:
        """True when ``username`` has a password of its own (it names one device).

        False for a fleet-wide shared secret, which any username may present.
        """
        ...


def username_names_device(username: str, oui: str, product_class: str, serial: str) -> bool:
    """Whether a per-device ``username`` names the device of an Inform's DeviceId.

    Accepted forms (SECURITY.md): ``SERIAL``, ``OUI-SERIAL`` and
    ``OUI-PRODUCTCLASS-SERIAL`` (the default username of many TR-069 agents).
    """
    if not serial:
        return False
    return username in (serial, f"{oui}-{serial}", f"{oui}-{product_class}-{serial}")


@dataclass(frozen=True, slots=True)
class StaticCredentialStore:
    """Credentials held in memory: per-device pairs, and/or one fleet-wide secret.

    A username found in ``per_device`` uses its own password; any other username is
    accepted with ``shared_secret`` when one is set (the usual set-up where CPEs log
    in with their serial number and a common secret).
    """

    per_device: Mapping[str, str] = field(default_factory=dict, repr=False)
    shared_secret: str | None = field(default=None, repr=False)

    async def lookup(self, username: str) -> str | None:
        password = self.per_device.get(username)
        if password is not None:
            return password
        if self.shared_secret and username:
            return self.shared_secret
        return None

    async def is_device_credential(self, username: str) -> bool:
        return username in self.per_device


@dataclass(frozen=True, slots=True)
class AuthOutcome:
    """``username`` when accepted; otherwise the ``WWW-Authenticate`` values for a 401.

    ``device_bound``: the password was the username's own (not the shared secret), so
    the session may only speak for the device the username names.
    """

    username: str | None
    challenges: tuple[str, ...] = ()
    failure: str = ""
    device_bound: bool = False

    @property
    def accepted(self) -> bool:
        return self.username is not None


class CpeAuthenticator:
    """Checks an ``Authorization`` header against a `CpeCredentialStore`."""

    def __init__(
        self,
        store: CpeCredentialStore,
        *,
        mode: AuthMode = "both",
        realm: str = "TraceACS",
        verifier: DigestVerifier | None = None,
    ) -> None:
        self.store = store
        self.mode = mode
        self.realm = realm
        self.digest = verifier if verifier is not None else DigestVerifier(realm)

    def _challenges(self, now: float, *, stale: bool = False) -> tuple[str, ...]:
        out: list[str] = []
        if self.mode in ("digest", "both"):
            out.append(self.digest.challenge(now, stale=stale))
        if self.mode in ("basic", "both"):
            out.append(f'Basic realm="{self.realm}", charset="UTF-8"')
        return tuple(out)

    def _reject(self, now: float, failure: str, *, stale: bool = False) -> AuthOutcome:
        return AuthOutcome(None, self._challenges(now, stale=stale), failure)

    async def authenticate(
        self, authorization: str | None, *, method: str, request_uri: str, now: float
    ) -> AuthOutcome:
        """Accept or reject a request; never raises on a malformed header."""
        if not authorization:
            return self._reject(now, "no credentials")
        scheme = authorization.strip().partition(" ")[0].lower()
        if scheme == "basic" and self.mode in ("basic", "both"):
            return await self._basic(authorization, now)
        if scheme == "digest" and self.mode in ("digest", "both"):
            return await self._digest(authorization, method, request_uri, now)
        return self._reject(now, f"scheme {scheme or '?'} not accepted")

    async def _basic(self, authorization: str, now: float) -> AuthOutcome:
        token = authorization.strip().partition(" ")[2].strip()
        try:
            decoded = base64.b64decode(token, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return self._reject(now, "malformed basic credentials")
        username, sep, password = decoded.partition(":")
        if not sep:
            return self._reject(now, "malformed basic credentials")
        expected = await self.store.lookup(username)
        # Compare even for unknown users, so timing does not tell them apart.
        ok = hmac.compare_digest(password.encode(), (expected or "").encode())
        if expected is None or not ok:
            return self._reject(now, "wrong username or password")
        return await self._accept(username)

    async def _accept(self, username: str) -> AuthOutcome:
        bound = await self.store.is_device_credential(username)
        return AuthOutcome(username, device_bound=bound)

    async def _digest(
        self, authorization: str, method: str, request_uri: str, now: float
    ) -> AuthOutcome:
        creds = parse_digest_authorization(authorization)
        if creds is None:
            return self._reject(now, "malformed digest credentials")
        password = await self.store.lookup(creds.username)
        result = self.digest.verify(
            creds, password=password, method=method, request_uri=request_uri, now=now
        )
        if result is DigestResult.OK:
            return await self._accept(creds.username)
        if result is DigestResult.STALE_NONCE:
            return self._reject(now, "stale nonce", stale=True)
        return self._reject(now, f"digest {result.value}")
