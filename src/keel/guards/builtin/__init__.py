"""The guards Keel ships: PII, prompt injection, output validators, input contracts."""
