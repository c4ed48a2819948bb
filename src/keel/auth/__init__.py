"""Virtual API keys and the admin key: minting, keyed hashing, and the in-memory key ring."""
