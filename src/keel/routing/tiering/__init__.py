"""Tiered routing: simple requests go to a cheap tier, the rest (and failed cheap answers) to a stronger one."""
