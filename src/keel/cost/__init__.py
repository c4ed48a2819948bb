"""What requests cost: list prices, exact per-request cost, and token estimates when usage is missing."""
