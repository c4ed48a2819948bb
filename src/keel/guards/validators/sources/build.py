"""Turning a source's config into a ready source, with its result cache where it has one."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from keel.core.clock import Clock
from keel.guards.validators.sources.base import DataSource
from keel.guards.validators.sources.cache import CachedSource
from keel.guards.validators.sources.config import CsvSourceConfig, HttpSourceConfig, SourceConfig, SqlSourceConfig
from keel.guards.validators.sources.csv_file import CsvSource
from keel.guards.validators.sources.http import HttpSource
from keel.guards.validators.sources.sql import SqlEngines, SqlSource, database_url, sqlite_file
from keel.store.sql import mask_url


def build_source(
    config: SourceConfig,
    *,
    base_dir: Path,
    session: aiohttp.ClientSession | None,
    engines: SqlEngines | None,
    clock: Clock,
) -> DataSource:
    """``session`` is needed by HTTP sources and ``engines`` by SQL ones; a missing one is a ``ValueError``.

    Nothing is read or connected here: a file that is missing or a database that is down shows up as
    ``SourceUnavailable`` when the source is first asked.
    """
    if isinstance(config, CsvSourceConfig):
        return CsvSource(base_dir / config.file, config.column, config.where)
    source: DataSource
    if isinstance(config, SqlSourceConfig):
        if engines is None:
            raise ValueError("a sql source needs the shared SqlEngines")
        engine = engines.engine(database_url(config.url, base_dir))
        source = SqlSource(
            engine,
            config.query,
            batched=config.batched,
            timeout_s=config.timeout_s,
            label=mask_url(config.url),
            file=sqlite_file(config.url, base_dir),
        )
    else:
        if session is None:
            raise ValueError("an http source needs the shared aiohttp ClientSession")
        source = HttpSource(config, session)
    return _cached(source, config, clock)


def _cached(source: DataSource, config: SqlSourceConfig | HttpSourceConfig, clock: Clock) -> DataSource:
    if config.cache_ttl_s == 0:
        return source
    return CachedSource(source, ttl_s=config.cache_ttl_s, max_entries=config.cache_max_entries, clock=clock)
