"""Atheris (libFuzzer) harness for the CWMP codec: `parse_envelope` on arbitrary bytes.

The contract under test (traceacs/cwmp/parse.py): for any input, `parse_envelope`
returns an `Envelope` or raises `CwmpParseError`; anything else is a crash. What parses
must also survive the way back: its serialisation parses again, and serialising that
gives the same bytes (the codec normalises once, e.g. dateTime to whole seconds, and is
stable from then on).

Run (see RESULTS.md for the recorded run):

    mkdir -p /tmp/codec-corpus && cp tests/cwmp/fixtures/*.xml /tmp/codec-corpus/
    .venv/bin/python bench/fuzz/fuzz_codec.py /tmp/codec-corpus -atheris_runs=1000000

Seeds: the wire fixtures of tests/cwmp/fixtures, plus the envelopes the ACS writes.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from traceacs.cwmp.codec import parse_envelope, serialize_envelope
    from traceacs.cwmp.errors import CwmpParseError


def test_one_input(data: bytes) -> None:
    try:
        envelope = parse_envelope(data)
    except CwmpParseError:
        return
    wire = serialize_envelope(envelope)  # must not raise: parsed text is XML-safe
    again = parse_envelope(wire)  # what the ACS writes, it must read back
    if serialize_envelope(again) != wire:
        raise AssertionError("serialise(parse(serialise(e))) != serialise(e)")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
