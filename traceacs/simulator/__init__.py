"""A CPE fleet that speaks real CWMP over HTTP, with failure injection."""
