"""Monitoring: Prometheus metrics now; drift, alerts and canaries build on it."""
