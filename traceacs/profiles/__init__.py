"""Service-profile sources of the BSS/OSS: embedded and HTTP."""
