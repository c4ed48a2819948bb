"""Durable records and their stores: one protocol per concern, SQLite by default, PostgreSQL at scale."""
