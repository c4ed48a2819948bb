"""Wire types, request context, the error tree and the clock: what every layer shares."""
