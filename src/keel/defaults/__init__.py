"""Packaged defaults: the embedded quickstart config and its FAQ file."""
