"""Assembly: the runtime container built at start-up, and the services the interfaces call."""
