"""Answer confidence and human review: score each answer, fall back or queue it for a person below a threshold.

``config`` is what a route declares, ``confidence`` how an answer is scored, ``stage`` the pipeline
stage, ``store`` the review queue and its decisions, ``export`` corrected answers as a canary suite.
"""
