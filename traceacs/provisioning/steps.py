"""The steps of provisioning, and the span each records (``cpe.provision.<step>``).

The seed's step names are an interface (the ``step`` attribute of
``cpe.provision.step_duration`` and the span names); both the general workflow and the
quiet periodic session (`traceacs.provisioning.quiet_session`) record them from here.
"""

from __future__ import annotations

import enum
from typing import Final


class Step(enum.StrEnum):
    AUTHENTICATE = "authenticate"
    FETCH_PROFILE = "fetch_profile"
    FIRMWARE = "firmware"
    PUSH_CONFIG = "push_config"
    VERIFY = "verify"


STEP_SPAN_NAMES: Final = {step: f"cpe.provision.{step.value}" for step in Step}
"""Each step's span name, built once (not per step of every session)."""
