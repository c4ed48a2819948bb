"""Pure decision logic of the resilience layer: ordering, circuit breaking, retries and capacity."""
