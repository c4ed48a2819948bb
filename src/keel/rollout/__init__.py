"""Canary rollouts: a candidate deployment takes a growing share of a route's traffic while analyses
compare it with the live one, until it is promoted or rolled back on its own."""
