"""The codec as it was before its hot paths were rewritten (main at 0ef320c): parse,
serialize and values, unchanged but for their imports of each other.

Kept as the oracle of `tests/cwmp/test_reference.py`: the codec of `traceacs.cwmp`
must give the same messages, the same errors and the same bytes as this one, on
generated, quirky and broken input. Not imported by anything outside the tests.
"""
