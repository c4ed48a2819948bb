"""The ``keel`` command."""
