"""`RandomIds`: W3C-sized lowercase hex ids, never all zeros."""

from __future__ import annotations

import random

from traceacs.provisioning.trace_recorder import RandomIds


def test_ids_spell_the_drawn_bits_as_zero_padded_lowercase_hex() -> None:
    """Differential: the ids are the ``:032x`` / ``:016x`` spelling of the same draws
    (the generator's bits, lowest bit set), small values included (leading zeros)."""
    ids = RandomIds(random.Random(7))
    reference = random.Random(7)
    for _ in range(2000):
        assert ids.new_trace_id() == f"{reference.getrandbits(128) | 1:032x}"
        assert ids.new_span_id() == f"{reference.getrandbits(64) | 1:016x}"


class _Zeros(random.Random):
    def getrandbits(self, k: int) -> int:
        return 0


def test_ids_are_never_all_zeros_and_keep_their_width() -> None:
    ids = RandomIds(_Zeros())
    assert ids.new_trace_id() == "0" * 31 + "1"
    assert ids.new_span_id() == "0" * 15 + "1"
