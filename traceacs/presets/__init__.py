"""Declarative presets: "devices that match this condition get these values and tasks".

See `model` (presets, conditions, which preset wins a parameter), `applier` (applied in
the device's session, once per preset revision) and `traceacs.storage.presets`.
"""
