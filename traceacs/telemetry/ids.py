"""An IdGenerator that lets a recorded `SessionTrace` keep its own ids.

The workflow chose the trace and span ids while the session ran (they may already be
in logs, the embedded trace store, or a W3C ``traceparent``), so the exported spans
must carry exactly those ids. The SDK asks its IdGenerator for every new id; this one
hands out the id staged for the current thread, and random ids otherwise, so other
users of the same TracerProvider are unaffected.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator


class RecordedIdGenerator(IdGenerator):
    """Random ids, except for the one span being replayed on this thread."""

    def __init__(self) -> None:
        self._random = RandomIdGenerator()
        self._staged = threading.local()

    @contextmanager
    def staged(self, trace_id: int, span_id: int) -> Iterator[None]:
        """Make the next span started on this thread use these ids."""
        self._staged.ids = (trace_id, span_id)
        try:
            yield
        finally:
            self._staged.ids = None

    def _current(self) -> tuple[int, int] | None:
        ids: tuple[int, int] | None = getattr(self._staged, "ids", None)
        return ids

    def generate_trace_id(self) -> int:
        ids = self._current()
        return ids[0] if ids is not None else self._random.generate_trace_id()

    def generate_span_id(self) -> int:
        ids = self._current()
        return ids[1] if ids is not None else self._random.generate_span_id()

    def is_trace_id_random(self) -> bool:
        # A recorded id comes from the workflow's IdSource, which tests may fix: only
        # claim randomness (W3C level-2 flag) for ids generated here.
        return self._current() is None
