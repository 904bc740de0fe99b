"""TraceACS: a TR-069 / CWMP ACS whose provisioning is traced end to end."""

__version__ = "0.1.0"
