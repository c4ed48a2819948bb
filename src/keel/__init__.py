"""Keel: the production layer for AI features."""

__version__ = "0.1.0"
