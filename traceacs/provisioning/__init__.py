"""Devices, service profiles, desired config and the provisioning workflow (talks to ports)."""
