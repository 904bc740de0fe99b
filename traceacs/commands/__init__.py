"""The operator's sub-commands of ``traceacs``, one module per command group.

Each module offers ``add_<group>_command(commands)``, called from `traceacs.cli`, and
keeps its heavy imports inside the command functions so that ``traceacs --help`` stays
instant. Shared pieces: `output` (tables, ``--json``, exit codes, progress) and
`store` (finding and opening the same store as ``traceacs serve``).
"""
