"""Upstream providers: a pure codec per wire protocol, vendors as catalogue data, built-in upstreams."""
