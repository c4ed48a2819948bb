"""Feedback from applications on answers: a score or label per request id, summarised per route and deployment."""
