"""Strict raw config models, the YAML loader, and the resolved runtime config."""
