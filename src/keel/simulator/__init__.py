"""The built-in simulated upstream: an OpenAI-compatible model server with scriptable faults."""
