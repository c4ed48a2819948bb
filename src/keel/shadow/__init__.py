"""Shadow testing: a share of a route's live traffic replayed to a candidate deployment, off the request path.

``config`` is what a route declares, ``mirror`` the pipeline stage and its background calls, ``compare``
how the two answers are set side by side, ``store`` where the results go and how they are summed up,
``report`` how a summary is shown.
"""
