"""The only package that imports OpenTelemetry."""
