"""The port the workflow fetches service profiles through, and its two failures.

The two errors are kept apart on purpose: ``ProfileNotFound`` means the BSS answered
"this customer has no profile" (result ``no_profile``, an operator fixes data), while
``ProfileSourceUnavailable`` means we could not get an answer at all (BSS down, slow,
garbage, circuit open: a different result, retried at the next inform). Neither
message ever carries a secret; ``reason``/``kind`` are safe to put on spans and logs.
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from traceacs.provisioning.profile import ServiceProfile

__all__ = [
    "ProfileNotFound",
    "ProfileSource",
    "ProfileSourceError",
    "ProfileSourceUnavailable",
    "UnavailableKind",
]

UnavailableKind = Literal[
    "connection",  # refused, reset, DNS: nothing answered
    "timeout",  # asked, but no answer in time
    "http_status",  # the BSS answered with an error status (5xx, 401, ...)
    "invalid_response",  # not JSON, not an object, too large
    "invalid_profile",  # well-formed JSON that is not a valid profile document
    "circuit_open",  # failing fast: the BSS failed repeatedly, not asked at all
    "store",  # the embedded store (database) failed
]


class ProfileSourceError(Exception):
    """Base of the errors a :class:`ProfileSource` may raise."""


class ProfileNotFound(ProfileSourceError):
    """The source answered: there is no profile for this customer and plan."""

    def __init__(self, customer_id: str, service_plan: str) -> None:
        self.customer_id = customer_id
        self.service_plan = service_plan
        super().__init__(
            f"no service profile for customer {customer_id!r} and plan {service_plan!r}"
        )


class ProfileSourceUnavailable(ProfileSourceError):
    """No answer could be obtained; ``kind`` classifies why, ``reason`` explains it."""

    def __init__(self, kind: UnavailableKind, reason: str) -> None:
        self.kind: UnavailableKind = kind
        self.reason = reason
        super().__init__(f"profile source unavailable ({kind}): {reason}")


@runtime_checkable
class ProfileSource(Protocol):
    """Where the workflow gets a customer's profile (embedded store, HTTP BSS, ...)."""

    async def fetch(self, customer_id: str, service_plan: str) -> ServiceProfile:
        """The profile for this customer and plan.

        Raises :class:`ProfileNotFound` or :class:`ProfileSourceUnavailable`.
        """
        ...
