"""Guards: checks on what goes into and comes out of a model."""
