"""The ``canaries`` section of ``keel.yaml``, and the suites it names.

Suite files are found relative to the config file (paths or glob patterns) and checked against the
config: a suite's target, its judges' routes and the embedding route must exist. Every problem in every
file is reported at once, as a ``ConfigError``, the way ``keel.yaml``'s own problems are.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field

from keel.canary.suite import Judge, SimilarTo, Suite, SuiteError, load_suite
from keel.config.base import StrictModel
from keel.config.errors import ConfigError, ConfigIssue

if TYPE_CHECKING:
    from keel.config.runtime import RuntimeConfig


class CanariesConfig(StrictModel):
    suites: tuple[str, ...] = ()
    """Suite files, or glob patterns (``canaries/*.yaml``), relative to the config file's directory."""
    enabled: bool = True
    """Run suites on their schedules; off, suites run only on demand (admin API, ``keel canary run``)."""
    concurrency: int = Field(default=4, ge=1, le=64)
    """Test runs of one suite execution in flight at once."""
    embedding_route: str | None = Field(default=None, min_length=1)
    """The route that embeds texts for ``similar_to`` assertions with ``method: embedding``."""


def load_suites(config: RuntimeConfig) -> dict[str, Suite]:
    """Every suite ``canaries.suites`` names, checked against the config; ``ConfigError`` lists all problems."""
    files, issues = _suite_files(config)
    suites: dict[str, Suite] = {}
    for file in files:
        try:
            suite = _parse(file)
        except ConfigError as error:
            issues.extend(error.issues)
            continue
        issues.extend(_references(suite, str(file), config))
        if suite.name in suites:
            issues.append(ConfigIssue(str(file), None, "name", f"another suite file is also named {suite.name!r}"))
        suites[suite.name] = suite
    route = config.raw.canaries.embedding_route
    if route is not None and config.route_for(route) is None:
        issues.append(ConfigIssue(config.source, None, "canaries.embedding_route", f"no route named {route!r}"))
    if issues:
        raise ConfigError(issues)
    return suites


def load_suite_file(path: Path, config: RuntimeConfig) -> Suite:
    """One suite file, checked against the routes and deployments of ``config``."""
    suite = _parse(path)
    problems = _references(suite, str(path), config)
    if problems:
        raise ConfigError(problems)
    return suite


def _parse(path: Path) -> Suite:
    try:
        return load_suite(path)
    except SuiteError as error:
        issues = [_config_issue(issue.file, issue.test, issue.field, issue.message) for issue in error.issues]
        raise ConfigError(issues) from None


def _suite_files(config: RuntimeConfig) -> tuple[list[Path], list[ConfigIssue]]:
    files: dict[Path, None] = {}
    issues: list[ConfigIssue] = []
    for index, pattern in enumerate(config.raw.canaries.suites):
        full = config.base_dir / pattern
        if glob.has_magic(pattern):
            matches = sorted(Path(p) for p in glob.glob(str(full), recursive=True) if Path(p).is_file())
            if not matches:
                issues.append(ConfigIssue(config.source, None, f"canaries.suites[{index}]", "matches no file"))
            files.update(dict.fromkeys(matches))
        else:
            files[full] = None
    return list(files), issues


def suite_sources(config: RuntimeConfig) -> tuple[object, ...]:
    """What the loaded suites depend on: the config, and every suite file's size and modification time."""
    files, _ = _suite_files(config)
    stats: list[tuple[str, int, int] | str] = []
    for file in files:
        try:
            stat = file.stat()
        except OSError:
            stats.append(str(file))
        else:
            stats.append((str(file), stat.st_mtime_ns, stat.st_size))
    return (config.hash, *stats)


def _references(suite: Suite, file: str, config: RuntimeConfig) -> list[ConfigIssue]:
    target = suite.target
    issues = []
    if target.route is not None and config.route_for(target.route) is None:
        issues.append(_config_issue(file, None, "target.route", f"no route named {target.route!r} in {config.source}"))
    if target.deployment is not None and target.deployment not in config.deployments:
        problem = f"no deployment named {target.deployment!r} in {config.source}"
        issues.append(_config_issue(file, None, "target.deployment", problem))
    for index, test in enumerate(suite.tests):
        for position, check in enumerate(test.checks):
            field = f"tests[{index}].assert[{position}]"
            if isinstance(check, Judge) and config.route_for(check.judge.route) is None:
                problem = f"no route named {check.judge.route!r} in {config.source}"
                issues.append(_config_issue(file, test.id, f"{field}.judge.route", problem))
            if isinstance(check, SimilarTo) and check.method == "embedding" and not config.raw.canaries.embedding_route:
                problem = "embedding similarity needs canaries.embedding_route in the config"
                issues.append(_config_issue(file, test.id, f"{field}.method", problem))
    return issues


def _config_issue(file: str, test: str | None, field: str, message: str) -> ConfigIssue:
    return ConfigIssue(file, None, field, f"{message} (test {test!r})" if test is not None else message)
