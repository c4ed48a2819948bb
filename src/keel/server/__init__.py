"""The HTTP surface: the OpenAI-compatible API, health, metrics and the admin API."""
