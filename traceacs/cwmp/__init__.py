"""The sans-IO CWMP core: messages, SOAP codec, value types, faults, session state machine.

Nothing here does I/O, reads the clock or imports anything else from the project.
"""
