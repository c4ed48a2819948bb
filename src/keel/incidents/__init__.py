"""Incidents: events that need a person (a PII leak in an answer), recorded as they happen."""
