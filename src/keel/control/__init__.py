"""Operator controls that change what the gateway does right now: kill switches."""
