"""Load benchmarks of TraceACS (issue 8): ``python -m bench.run SCENARIO`` or ``traceacs bench``."""
