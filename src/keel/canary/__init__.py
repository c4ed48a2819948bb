"""Golden canary suites: fixed questions with checked answers, run against a route or deployment on a schedule.

``suite`` reads a suite file, ``assertions`` checks one answer, ``runner`` executes a suite through an
injected call, ``store`` keeps the runs, ``flaky`` reads their history and ``cron`` schedules them.
"""
